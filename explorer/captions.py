"""Text the UI shows for a latent: one-line spec captions and w-index ranges with their resolutions."""

from __future__ import annotations

from model.spec import LatentSpec


def spec_caption(spec: LatentSpec, index_labels: tuple[str, ...] = ()) -> str:
    """One line for the large view and the export dialog: base, psi, class, noise, mix, edits."""
    trunc = f"ψ {spec.psi:.2f}" + (f" on the first {spec.cutoff} w" if spec.cutoff is not None else "")
    parts = [spec.label, trunc]
    if spec.class_idx is not None:
        parts.append(f"class {spec.class_idx}")
    if spec.noise_mode != "const":
        parts.append(f"noise {spec.noise_mode}")
    if spec.mix is not None:
        source = spec.mix.source
        name = f"seed {source}" if isinstance(source, int) else source.label
        parts.append(f"mix {name} @ {layer_text(spec.mix.first, spec.mix.last, index_labels)}")
    parts += [f"{e.direction} {e.strength:+.1f} @ {layer_text(e.first, e.last, index_labels)}" for e in spec.edits]
    return "  ·  ".join(parts)


def layer_text(first: int, last: int, index_labels: tuple[str, ...]) -> str:
    """'w 0–3 (4²–8²)': the indices and, when known, the resolutions they belong to."""
    span = f"w {first}" if first == last else f"w {first}–{last}"
    if last >= len(index_labels):
        return span
    a, b = index_labels[first], index_labels[last]
    return f"{span} ({a})" if a == b else f"{span} ({a}–{b})"
