"""Secrets never leave: requests that carry secrets (registry passwords, card data, bad and good
API keys) get answers and log lines without them, and the scan the harness runs after the whole
suite (t/harness.py scan_secrets: error/access logs, database dump, every captured response) is
clean at this point too."""
import time

import pytest

from harness import scan_line, scan_secrets, secret_patterns

REG_PASSWORD = "reg-Pa55-" + "q7Zx" * 4
CARD = "4111-2222-3333-4444"


def logs(stack):
    return stack.error_log() + stack.access_log()


def test_api_keys_never_logged_even_when_wrong(api, stack):
    wrong = "dpk_" + "ab12" * 10
    r = api.get("/system/version", key=wrong)
    assert r.status_code == 401
    api.get("/system/version")
    time.sleep(0.3)
    text = logs(stack)
    assert wrong not in text
    for k in stack.keys.values():
        assert k not in text and k not in r.text


@pytest.mark.allow_log(r".")
def test_registry_password_not_echoed_or_logged(api, stack):
    r = api.post("/images/pull", json={"image": "localhost:5000/hostile/secret-none", "tag": "1",
                                       "auth": {"username": "u", "password": REG_PASSWORD,
                                                "serveraddress": "localhost:5000"}})
    assert r.status_code >= 400
    time.sleep(0.3)
    assert REG_PASSWORD not in r.text
    assert REG_PASSWORD not in logs(stack)
    status, _ = stack.docker_api("GET", "/images/localhost:5000/hostile/secret-none:1/json")
    assert status == 404


@pytest.mark.parametrize("over", [{"expiry": "1999-01"}, {"birth": "x"}, {"pwd_2digit": "123"},
                                  {"card_number": CARD + "9"}, {"customer_uid": "../x"}])
def test_card_data_not_echoed_in_refusals(api, stack, over):
    body = {"customer_uid": "cu_secret_test", "card_number": CARD, "expiry": "2032-03",
            "birth": "880412", "pwd_2digit": "34"}
    body.update(over)
    r = api.post("/subscriptions/billing-key", json=body)
    assert 400 <= r.status_code < 500, r.text
    for v in [CARD, CARD.replace("-", ""), CARD + "9", "2032-03", "880412"]:
        assert v not in r.text, f"{v} echoed: {r.text}"
    time.sleep(0.3)
    text = logs(stack)
    for v in [CARD, CARD.replace("-", ""), "880412"]:
        assert v not in text


def test_secret_scan_is_clean_so_far(stack):
    """The same scan the harness runs after the suite, on what the tests so far produced."""
    hits = scan_secrets(stack.s)
    assert not hits, "\n".join(hits[:30])


def test_scanner_flags_planted_secrets_and_nothing_else(stack):
    """The scan itself: a planted card number or API key is found; masked numbers, virtual
    account numbers and ids are not."""
    exact, bounded = secret_patterns(stack.s)
    assert scan_line('{"card": "4111111111111111"}', exact, bounded)          # Luhn-valid card
    assert scan_line("card 5105-1051-0510-5100 here", exact, bounded)          # grouped form
    assert scan_line("Authorization: Bearer " + stack.keys["admin"], exact, bounded)
    assert scan_line("(1,'4111111111111111',2)", exact, bounded)                # SQL string
    for clean in ['"card_number": "411111******1111"', '"vbank_num": "562-1234-567890"',
                  '"imp_uid": "imp_123456789012"', "amount 10000000000000", "id 12345678901234",
                  '{"system_cpu_usage": 4111111111111111, "x": 1}', "VALUES (4111111111111111)"]:
        assert not scan_line(clean, exact, bounded), clean
