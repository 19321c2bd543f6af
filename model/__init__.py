"""Networks, latent maths and checkpoint I/O. Knows nothing about pygame or training."""
