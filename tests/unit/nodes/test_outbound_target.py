"""``Target.of``: a URL taken as written is exactly what httpx would make of it."""

from __future__ import annotations

import random
import string

import httpx
import pytest

from tav.nodes.outbound.session import Target

EDGES = [
    "http://127.0.0.1:18777/item/3",
    "http://h",
    "http://h/",
    "http://h/x?",
    "http://h:80/x",
    "https://h:443/x",
    "http://h:0081/x",
    "http://h:99999/x",
    "http://H.example/x",
    "http://h/a/./b",
    "http://h/a/../b",
    "http://h/x?a=/./b",
    "http://h/%7e?a=%2F&b=%zz",
    "http://h/x#fragment",
    "http://xn--bcher-kva.example/",
    "http://bücher.example/ä?x=ü y",
    "http://127.1:8080/",
    "http://2130706433/",
    "http://1.2.3.4.5/",
    "http://[::1]:8080/x",
    "http://user:pass@h/x",
    "http://a-.example/",
    "http://h/p;q=1,2/@x:y?k=v&k2='!$()*+~'",
]
PLAIN = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%/?"
"""What a path and query may hold and still be taken as written."""
ALPHABET = PLAIN + '#[] "<>^`{|}\\é'


def _random_urls(count: int) -> list[str]:
    pick = random.Random(7)
    urls = []
    for _ in range(count):
        host = pick.choice(["example.com", "a.b-c.d", "127.0.0.1", "10.0.0.7", "Example.COM"])
        port = pick.choice(["", ":80", ":443", ":8080", ":1", ":65535"])
        alphabet = PLAIN if pick.random() < 0.6 else ALPHABET
        tail = "".join(pick.choice(alphabet) for _ in range(pick.randrange(0, 24)))
        urls.append(f"{pick.choice(['http', 'https'])}://{host}{port}/{tail}")
    return urls


@pytest.mark.parametrize("url", EDGES + _random_urls(400))
def test_a_url_is_normalised_as_httpx_normalises_it(url: str):
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        with pytest.raises(httpx.InvalidURL):
            Target.of(url)
        return

    assert Target.of(url) == Target(str(parsed), parsed.scheme, parsed.host, parsed.port)


def test_a_plain_url_is_taken_as_written():
    url = "http://127.0.0.1:18777/item/3?page=2"

    assert Target.of(url) == Target(url, "http", "127.0.0.1", 18777)
