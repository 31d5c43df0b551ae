def test_money_ticks_stay_distinct_and_signs_go_before_the_dollar():
    from sim.plots import money_text, value_text

    ticks = [12_000, 12_500, 13_000, 13_500, 14_000, 14_500]  # a CAC axis a sweep drew
    assert len({money_text(v) for v in ticks}) == len(ticks)
    assert money_text(13_500) == "$13.5K" and money_text(480_000) == "$480K"
    assert money_text(-4.46e6) == "-$4.5M" and money_text(0) == "$0" and money_text(-0.2) == "$0"
    assert value_text("${:,.0f}", -2000) == "-$2,000"
