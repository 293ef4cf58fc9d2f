from hypothesis import given, settings
from hypothesis import strategies as st

from dreamwright.decoding import StopWatcher, held_back


def feed(pieces, stops):
    watcher = StopWatcher(stops)
    shown = [watcher.push(p) for p in pieces]
    shown.append(watcher.flush())
    return watcher, "".join(shown)


def test_unicode_stop_strings_cut_and_hold_back():
    watcher, shown = feed(["春", "风", "。", "\n", "夏", "雨"], ["。\n"])
    assert watcher.stopped and watcher.text == "春风" and shown == "春风"
    watcher = StopWatcher(["🌙!"])
    assert watcher.push("moon ") == "moon "
    assert watcher.push("🌙") == ""  # might still become the stop string
    assert watcher.push("?") == "🌙?"  # it did not
    assert watcher.push("🌙") == "" and watcher.push("!") == "" and watcher.stopped
    assert watcher.text == "moon 🌙?"


def test_held_back_is_the_longest_partial_match():
    assert held_back("abcab", ["abx", "cabd"]) == 3
    assert held_back("xyz", ["abc"]) == 0


@given(st.lists(st.text(alphabet="ab。\n🌙", min_size=0, max_size=3), max_size=30),
       st.lists(st.text(alphabet="ab。\n🌙", min_size=1, max_size=3), min_size=1, max_size=3))
@settings(max_examples=300, deadline=None)
def test_same_as_searching_the_text_as_it_grows(pieces, stops):
    """Piece by piece, the text is cut at the earliest stop string in it once one has completed (a longer stop
    that starts earlier but would complete in a later piece cannot be waited for: the stream has stopped)."""
    watcher, shown = feed(pieces, stops)
    expected, stopped = "".join(pieces), False
    for i in range(len(pieces)):
        prefix = "".join(pieces[: i + 1])
        cuts = [prefix.find(s) for s in stops if s in prefix]
        if cuts:
            expected, stopped = prefix[: min(cuts)], True
            break
    assert watcher.text == expected and shown == expected and watcher.stopped == stopped


def test_a_stop_that_completes_first_wins_over_one_that_started_earlier():
    watcher, shown = feed(["🌙\n🌙", "b", "a"], ["🌙ba", "b"])
    assert watcher.stopped and watcher.text == "🌙\n🌙" and shown == "🌙\n🌙"
