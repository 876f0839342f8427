import pytest

from briefings.domain.periods import Period, PeriodError


@pytest.mark.parametrize(
    ("text", "label", "slug", "days", "previous"),
    [
        ("2016/17", "2016/17", "2016-17", 365, "2015/16"),
        ("2015/16", "2015/16", "2015-16", 366, "2014/15"),  # 29 February 2016
        ("2019-20", "2019/20", "2019-20", 366, "2018/19"),  # 29 February 2020
        (" 2099/00 ", "2099/00", "2099-00", 365, "2098/99"),
    ],
)
def test_periods_parse_and_count_days(text, label, slug, days, previous):
    period = Period.parse(text)
    assert (period.label, period.slug, period.days, period.previous.label) == (
        label,
        slug,
        days,
        previous,
    )
    assert (period.last_day - period.first_day).days + 1 == days


@pytest.mark.parametrize("text", ["2016/18", "2016", "16/17", "2016/2017", "FY16", ""])
def test_a_text_that_is_not_a_financial_year_is_refused(text):
    with pytest.raises(PeriodError, match="financial year"):
        Period.parse(text)


def test_the_population_estimate_is_the_mid_year_inside_the_period():
    assert Period.parse("2016/17").population_mid_year == 2016
