"""Sizes as people read them, in binary units: '312 MiB', '1.5 GiB', '4 KiB'."""

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: int) -> str:
    """A byte count in the largest binary unit it reaches, with one decimal below 10."""
    if count < 1024:
        return f"{count} byte{'' if count == 1 else 's'}"
    value = float(count)
    for unit in UNITS:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            break
    if value < 9.95 and round(value, 1) != round(value):
        return f"{value:.1f} {unit}"
    return f"{value:.0f} {unit}"
