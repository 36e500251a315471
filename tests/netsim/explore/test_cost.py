"""The exploration's cost axis: one source of figures per run, recorded, never mixed in one ratio."""
import pytest

import opmodels
import opmodels.cost
from netsim.errors import NetsimError
from netsim.explore import cost
from netsim.explore.executor import ResultCache
from netsim.explore.jobs import ModelSpec
from netsim.explore.sweeps import Run, dse

needs_yosys = pytest.mark.skipif(opmodels.cost.find_yosys() is None, reason="no Yosys")


@pytest.fixture(autouse=True)
def _fresh_figures():
    cost._figures.cache_clear()  # figures are memoised per process; each test sets its own conditions
    yield
    cost._figures.cache_clear()


@pytest.fixture
def no_yosys(monkeypatch):
    monkeypatch.setenv("OPMODELS_YOSYS", "no-such-yosys-here")


@pytest.fixture
def no_synthesis(monkeypatch):
    """Operator.cost raises: a figure that still appears did not come from Yosys."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{self.id}: op.cost() called")
    monkeypatch.setattr(opmodels.Operator, "cost", refuse)


def test_without_yosys_every_figure_is_the_ir_proxy(no_yosys, no_synthesis):
    assert cost.cost_source() == cost.IR_PROXY
    exact, m4p8, m6p14 = (cost.relative_cost(m, cost.IR_PROXY) for m in ("exact", "M4P8", "M6P14"))
    assert exact["relative_area"] == 1.0 and exact["energy"] is None and exact["relative_energy"] is None
    # approximation removes logic, and truncating 14 columns removes more than ABE2 on 8
    assert m6p14["relative_area"] < m4p8["relative_area"] < 1.0
    assert cost.relative_area("M4P0", cost.IR_PROXY) == 1.0  # P0 builds the exact multiplier


@needs_yosys
def test_with_yosys_figures_and_baseline_are_the_cost_models():
    assert cost.cost_source() == cost.YOSYS
    found = cost.relative_cost("M4P8", cost.YOSYS)
    mine, exact = opmodels.get("M4P8").cost(), opmodels.get("EXACT").cost()
    assert found["area"] == mine.area_nand2 and found["energy"] == mine.energy_per_op
    assert found["relative_area"] == pytest.approx(mine.area_nand2 / exact.area_nand2)
    assert found["relative_energy"] == pytest.approx(mine.energy_per_op / exact.energy_per_op)
    assert 0 < found["relative_area"] < 1


def test_a_synthesis_failure_is_an_error_not_a_proxy_figure(monkeypatch):
    def fail(self, *args, **kwargs):
        raise opmodels.cost.SynthesisError(f"{self.id}: Yosys failed: on purpose")
    monkeypatch.setattr(opmodels.Operator, "cost", fail)
    with pytest.raises(opmodels.cost.SynthesisError, match="M2P6: Yosys failed: on purpose"):
        cost.relative_cost("M2P6", cost.YOSYS)
    with pytest.raises(NetsimError, match="cost source must be one of yosys, ir-proxy, not 'nand'"):
        cost.relative_cost("M2P6", "nand")


def test_describe():
    assert cost.describe(cost.YOSYS) == "Yosys synthesis"
    assert cost.describe(None) == "not recorded"


def test_dse_records_its_one_source(lenet_checkpoint, tmp_path, no_yosys, no_synthesis):
    run = Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=32)
    result = dse(ModelSpec.of("lenet5", lenet_checkpoint), ["M4P8"], run)
    assert result["summary"]["cost_source"] == cost.IR_PROXY
    rows = {r["multiplier"]: r for r in result["rows"]}
    assert rows["exact"]["relative_area"] == 1.0 and 0 < rows["M4P8"]["relative_area"] < 1
    assert all(r["energy"] is None and r["relative_energy"] is None for r in rows.values())
