"""Monte Carlo bias and coverage of the published shares on the synthetic generator.

Marker ``simulation`` (about five minutes): left out of ``make test`` and plain ``pytest`` runs
(``addopts`` in pyproject.toml); ``make simulate`` runs it and prints the table. 1 000 replicates:
the Monte Carlo standard error of a coverage of 0.95 is sqrt(.95 * .05 / 1000) = 0.0069, so the
band 0.93-0.97 is about three standard errors wide on each side.
"""

from __future__ import annotations

import pytest

from genomlysning import simulation

pytestmark = [pytest.mark.slow, pytest.mark.simulation]

#: (quantity, estimator) pairs the reports publish, which must be unbiased and cover.
PUBLISHED = (("utredning_inledd", "wilson_klustrad"), ("fb_inom_frist", "komplett_kohort"),
             ("utredning_inom_frist", "komplett_kohort"), ("utredning_inom_frist", "kaplan_meier"))


@pytest.fixture(scope="module")
def summary():
    t = simulation.run(simulation.REPLICATES)
    print("\n" + simulation.format_summary(t))
    return t.set_index(["storhet", "skattare"])


@pytest.mark.parametrize(("quantity", "estimator"), PUBLISHED)
def test_published_share_is_unbiased_and_covers(summary, quantity: str, estimator: str) -> None:
    row = summary.loc[(quantity, estimator)]
    assert row["replikat"] == simulation.REPLICATES
    assert abs(row["bias_procentenheter"]) < 0.5, row.to_dict()
    assert 0.93 <= row["tackning"] <= 0.97, row.to_dict()


def test_the_replaced_timeliness_estimator_was_biased(summary) -> None:
    """Dropping only the cases still open before their deadline keeps the quick ones: the old
    "utredning within four months" overstates the share and its interval misses the truth."""
    old = summary.loc[("utredning_inom_frist", "kanda_utfall_tidigare")]
    assert old["bias_procentenheter"] > 2.0
    assert old["tackning"] < 0.80
