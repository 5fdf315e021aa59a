"""A test that fails, for `roadie demo` to debug where it fails."""


def test_basket_total():
    prices = [3, 4, 5]
    total = sum(prices)
    assert total == 13, "the basket total is wrong"
