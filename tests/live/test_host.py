"""The host figure: our drawn default, a merchant's own layers checked on load, frames and mouth mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.live.host import (
    HostError,
    HostLibrary,
    default_host,
    eyes_closed_at,
    idle_offset,
    load_host_layers,
    mouth_index,
)
from agent.live.plan import PlanError, RoomPlan

pytestmark = pytest.mark.unit


def write_set(folder: Path, *, mouths: int = 5, size: tuple[int, int] = (120, 160)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    layers = default_host(size)
    for name in ("body", "eyes_open", "eyes_closed"):
        layers.layer(name).save(folder / f"{name}.png")
    for i in range(mouths):
        layers.mouths[min(i, len(layers.mouths) - 1)].save(folder / f"mouth_{i}.png")
    return folder


def test_the_default_host_has_every_layer_and_its_mouth_shapes_differ() -> None:
    host = default_host()
    assert host.size == (360, 480)
    assert len(host.mouths) == 5
    assert all(layer.mode == "RGBA" and layer.size == host.size for layer in (host.body, *host.mouths))
    frames = [host.frame(i, False).tobytes() for i in range(5)]
    assert len(set(frames)) == 5, "every mouth shape draws differently"
    assert host.frame(2, True).tobytes() != host.frame(2, False).tobytes()  # blinking shows

    # The mouth opens wider with the level: more dark mouth interior at each step.
    def opening(image: Image.Image) -> int:
        px = np.asarray(image, dtype=np.int16)
        r, g, b, a = px[..., 0], px[..., 1], px[..., 2], px[..., 3]
        return int(((a > 200) & (r < 120) & (g < 60) & (b < 70)).sum())

    areas = [opening(m) for m in host.mouths]
    assert areas[0] == 0
    assert areas[1:] == sorted(areas[1:])
    assert areas[4] > areas[1]
    assert host.frame(1, False, 0.5).size == (180, 240)


def test_mouth_levels_map_onto_any_number_of_shapes() -> None:
    assert [mouth_index(level, 5) for level in range(5)] == [0, 1, 2, 3, 4]
    assert [mouth_index(level, 4) for level in range(5)] == [0, 1, 2, 2, 3]
    assert [mouth_index(level, 6) for level in range(5)] == [0, 1, 2, 4, 5]
    # Blinks are short and not on a fixed beat; breathing stays within a few pixels.
    shut = [t / 100 for t in range(3000) if eyes_closed_at(t / 100)]
    assert 0.01 < len(shut) / 3000 < 0.06
    assert max(abs(idle_offset(t / 10, 480)) for t in range(100)) <= 3


def test_a_merchants_layer_set_is_checked_and_every_problem_named(tmp_path: Path) -> None:
    good = load_host_layers(write_set(tmp_path / "good"))
    assert len(good.mouths) == 5
    assert good.size == (120, 160)
    bad = write_set(tmp_path / "bad", mouths=3)
    (bad / "eyes_closed.png").unlink()
    Image.new("RGBA", (50, 50)).save(bad / "eyes_open.png")
    (bad / "mouth_2.png").write_bytes(b"not a png")
    with pytest.raises(HostError) as caught:
        load_host_layers(bad)
    problems = "\n".join(caught.value.problems)
    assert "3 mouth shapes found; a host needs 4 to 6" in problems
    assert "eyes_closed.png is missing" in problems
    assert "eyes_open.png is 50x50 but body.png is 120x160" in problems
    assert "mouth_2.png is not a readable PNG" in problems
    gap = write_set(tmp_path / "gap", mouths=5)
    (gap / "mouth_1.png").rename(gap / "mouth_7.png")
    with pytest.raises(HostError, match="without gaps"):
        load_host_layers(gap)


def test_sets_are_imported_by_name_and_plans_refer_to_them(tmp_path: Path) -> None:
    library = HostLibrary(tmp_path / "hosts")
    library.import_set("shop", "lily", write_set(tmp_path / "src"))
    assert library.names("shop") == ["lily"]
    assert library.names("other") == []
    assert library.get("shop", "lily").size == (120, 160)
    assert library.get("shop", None) is default_host()
    assert library.png("shop", "lily", "mouth_4").startswith(b"\x89PNG")
    with pytest.raises(KeyError):
        library.png("shop", "lily", "mouth_9")
    plan = RoomPlan.model_validate(
        {"room_id": "r", "merchant": "shop", "items": [{"link": 1, "sku": "A"}], "host": {"layers": "nope"}}
    )

    class Catalog:
        def get_product(self, merchant: str, sku: str) -> object:
            return object()

    (problem,) = plan.validate_against(Catalog(), library)  # type: ignore[arg-type]
    assert problem.startswith("host.layers: merchant 'shop' has no host layer set 'nope'")
    assert "sets: lily" in problem
    with pytest.raises(PlanError, match=r"host\.layers"):
        RoomPlan.from_data(
            {
                "room_id": "r",
                "merchant": "shop",
                "items": [{"link": 1, "sku": "A"}],
                "host": {"layers": "../etc"},
            }
        )
    # A failed import leaves the set it would have replaced as it was.
    broken = write_set(tmp_path / "broken", mouths=2)
    with pytest.raises(HostError):
        library.import_set("shop", "lily", broken)
    assert len(library.get("shop", "lily").mouths) == 5
