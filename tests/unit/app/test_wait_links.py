"""Resume links: derived from the execution, the node and which wait of the node it is."""

from __future__ import annotations

from tav.app.waits import Links


def test_a_nodes_later_waits_have_links_of_their_own() -> None:
    links = Links(key=lambda: b"k" * 32, base_url="http://tav.test/")
    first = links.token("e1", "agent")
    assert links.token("e1", "agent", 0) == first  # the first's, known before it waits
    later = {links.token("e1", "agent", seq) for seq in (1, 2, 3)}
    assert len(later) == 3
    assert first not in later
    assert links.url("e1", "agent") == f"http://tav.test/resume/{first}"
