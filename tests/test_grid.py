"""Grid files, their cells, and running a grid here and on a real local Ray instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqdiag.errors import ConfigError, SeqdiagError
from seqdiag.grid import grid_cells, load_grid, run_grid

EXAMPLES = sorted((Path(__file__).parent.parent / "configs" / "grids").glob("*.toml"))
TINY = ["train.steps=12", "train.snapshot_every=4"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


GRID_2X2 = """
[grid]
"model.hidden_size" = [3, 4]
"train.lr" = [1e-3, 0.01]

[sweep]
seeds = 3
seed = 5
train = ["teacher", "zeros"]
set = ["train.steps=12", "train.snapshot_every=4"]
"""


def test_grid_cells_are_the_product_in_file_order(tmp_path):
    spec = load_grid(_write(tmp_path, GRID_2X2))
    cells = grid_cells(spec)
    assert [c.values for c in cells] == [
        {"model.hidden_size": 3, "train.lr": 1e-3},
        {"model.hidden_size": 3, "train.lr": 0.01},
        {"model.hidden_size": 4, "train.lr": 1e-3},
        {"model.hidden_size": 4, "train.lr": 0.01},
    ]
    assert [(c.config.model.hidden_size, c.config.train.lr) for c in cells] == [
        (3, 1e-3),
        (3, 0.01),
        (4, 1e-3),
        (4, 0.01),
    ]
    assert all(c.config.seed == 5 and c.config.train.steps == 12 for c in cells)
    assert cells[1].label == "model.hidden_size=3 train.lr=0.01"
    assert spec.seeds == 3 and spec.train == ["teacher", "zeros"]


def test_command_line_wins_over_the_grid_file(tmp_path):
    spec = load_grid(_write(tmp_path, GRID_2X2))
    cells = grid_cells(spec, config="alternating", overrides=["train.steps=7"], seed=1)
    assert all(c.config.seed == 1 and c.config.train.steps == 7 for c in cells)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[grid]\n", "[grid] is missing or empty"),
        ('[grid]\n"model.width" = [1]\n', "unknown config key"),
        ('[grid]\n"train.lr" = 0.1\n', "expected a non-empty list"),
        ('[grid]\n"train.lr" = []\n', "expected a non-empty list"),
        ('[grid]\n"train.lr" = [0.1]\n[other]\n', "unknown table [other]"),
        ('[grid]\n"train.lr" = [0.1]\n[sweep]\nseedz = 3\n', "unknown key"),
        ('[grid]\n"train.lr" = [0.1]\n[sweep]\nseeds = 0\n', "must be >= 1"),
        ('[grid]\n"train.lr" = [0.1\n', "malformed TOML"),
    ],
)
def test_bad_grid_files_name_the_problem(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=None) as info:
        load_grid(_write(tmp_path, text))
    assert needle in str(info.value)


def test_a_bad_cell_value_fails_before_training(tmp_path):
    spec = load_grid(_write(tmp_path, '[grid]\n"train.lr" = [0.1, -1.0]\n'))
    with pytest.raises(ConfigError, match="cell train.lr=-1.0: .*train.lr = -1.0: must be > 0"):
        grid_cells(spec)


def test_missing_grid_file():
    with pytest.raises(ConfigError, match="no such file"):
        load_grid("/nonexistent/grid.toml")


def test_unknown_executor_and_address_without_ray(tmp_path):
    cells = grid_cells(load_grid(_write(tmp_path, GRID_2X2)))
    with pytest.raises(SeqdiagError, match="must be one of local, ray"):
        run_grid(cells, 2, executor="dask")
    with pytest.raises(SeqdiagError, match="needs --executor ray"):
        run_grid(cells, 2, address="auto")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_grid_loads_and_runs_a_few_steps(path):
    assert path.read_text().startswith(f"# seqdiag sweep --grid configs/grids/{path.name}\n")
    spec = load_grid(path)
    cells = grid_cells(spec, overrides=TINY)
    result = run_grid(cells[:2], 2, spec.train, source=spec.source, axes=spec.axes)
    assert len(result.cells) == 2


def _check_2x2(result, executor: str) -> None:
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["command"] == "sweep-grid"
    assert data["executor"] == executor
    assert len(data["cells"]) == 4
    assert [c["values"]["model.hidden_size"] for c in data["cells"]] == [3, 3, 4, 4]
    for cell in data["cells"]:
        assert cell["seeds"] == 3
        assert set(cell["policies"]) == {"teacher", "zeros"}
        assert cell["config"]["model"]["hidden_size"] == cell["values"]["model.hidden_size"]


def test_grid_2x2_runs_locally(tmp_path):
    spec = load_grid(_write(tmp_path, GRID_2X2))
    seen = []
    result = run_grid(
        grid_cells(spec), spec.seeds, spec.train, axes=spec.axes, on_cell=lambda i, n, c: seen.append((i, n))
    )
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4)]
    _check_2x2(result, "local")


@pytest.mark.slow
def test_grid_starts_and_stops_its_own_local_ray_instance(tmp_path):
    """Without a Ray session, the executor starts one (shipping the package to its workers) and shuts it down."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process")
    spec = load_grid(_write(tmp_path, GRID_2X2))
    result = run_grid(grid_cells(spec), spec.seeds, spec.train, axes=spec.axes, executor="ray")
    _check_2x2(result, "ray")
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_grid_2x2_runs_on_a_local_ray_instance_and_matches_local(tmp_path, local_ray):
    spec = load_grid(_write(tmp_path, GRID_2X2))
    cells = grid_cells(spec)
    on_ray = run_grid(cells, spec.seeds, spec.train, axes=spec.axes, executor="ray")
    _check_2x2(on_ray, "ray")
    here = run_grid(cells, spec.seeds, spec.train, axes=spec.axes)
    for (_, a), (_, b) in zip(on_ray.cells, here.cells, strict=True):
        assert a.rates == b.rates  # same seeds, same engine, same thread count: the same outcome
