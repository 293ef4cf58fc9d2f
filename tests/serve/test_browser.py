"""The web page in real headless Chromium (Debian's `chromium`, driven by Playwright's Python API)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("DREAMWRIGHT_TEST_ARTIFACTS", "test-artifacts"))
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


def wait_js(page, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript condition (the page's CSP forbids the eval that ``wait_for_function`` uses)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(f"() => Boolean({expression})"):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {expression}")


def lens_values(page) -> list[tuple[str, float, float]]:
    return page.eval_on_selector_all(
        "#lens-chart .bar-row",
        "rows => rows.map(r => [r.dataset.token, Number(r.dataset.before), Number(r.dataset.after)])",
    )


def lens_temperature(page) -> str | None:
    return (
        page.eval_on_selector("#lens-chart svg", "s => s.dataset.temperature")
        if page.query_selector("#lens-chart svg")
        else None
    )


def test_page_streams_and_the_lens_follows_the_slider(browser, live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/")

    # the model list and a first lens arrive
    page.wait_for_selector("#model option[value='tiny']", state="attached")
    page.wait_for_selector("#lens-chart .bar-row")
    assert lens_temperature(page) == "0.8"
    first = lens_values(page)
    assert len(first) == 10

    # type a prompt, press Generate, and watch text stream in
    page.fill("#prompt", "")
    page.locator("#prompt").press_sequentially("JULIET: the ")
    page.fill("#max-tokens", "300")
    page.evaluate("""() => {
        window.__updates = 0;
        new MutationObserver(() => { window.__updates += 1; })
            .observe(document.querySelector('#output .generated'),
                     {childList: true, characterData: true, subtree: true});
    }""")
    page.click("#generate")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Done')")
    generated = page.text_content("#output .generated")
    assert len(generated) == 300  # a char model: one character per token
    assert page.text_content("#output .prompt-echo") == "JULIET: the "
    assert page.evaluate("window.__updates") > 3  # it arrived in pieces, not all at once

    # the lens follows the prompt ...
    wait_js(page, "document.querySelector('#lens-chart svg').getAttribute('aria-label') !== null")
    # ... and the temperature slider (moved with the keyboard): T = 0 puts all the mass on one token
    page.focus("#temperature")
    page.keyboard.press("Home")
    wait_js(page, "document.querySelector('#lens-chart svg')?.dataset.temperature === '0'")
    greedy = lens_values(page)
    assert max(after for _, _, after in greedy) == 1.0
    assert page.text_content("#temperature-value") == "0.00"
    page.keyboard.press("End")
    wait_js(page, "document.querySelector('#lens-chart svg')?.dataset.temperature === '2'")
    hot = lens_values(page)
    top_before = max(before for _, before, _ in hot)
    top_after = max(after for _, _, after in hot)
    assert top_after < top_before  # T > 1 flattens the distribution
    assert [a for *_, a in hot] != [a for *_, a in greedy]
    for _ in range(24):
        page.keyboard.press("ArrowLeft")  # back to 0.80
    wait_js(page, "document.querySelector('#lens-chart svg')?.dataset.temperature === '0.8'")

    # clicking a bar appends that token (choose your own path), and the lens moves on
    prompt_before = page.input_value("#prompt")
    bar = page.locator("#lens-chart .bar-row").first
    token = bar.get_attribute("data-token")
    bar.click()
    assert page.input_value("#prompt") == prompt_before + token
    # keyboard too, once the lens shows the candidates after the new prompt: focus a bar and press Enter
    page.evaluate("(context) => { window.__context = context; }", prompt_before + token)
    wait_js(page, "document.querySelector('#lens-chart svg')?.dataset.context === window.__context")
    page.locator("#lens-chart .bar-row").nth(1).focus()
    token2 = page.locator("#lens-chart .bar-row").nth(1).get_attribute("data-token")
    page.keyboard.press("Enter")
    assert page.input_value("#prompt") == prompt_before + token + token2

    # one click: samples at the book's four temperatures, side by side
    page.fill("#max-tokens", "60")
    page.click("#four")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Four samples done')")
    cards = page.locator("#four-grid .sample")
    assert cards.count() == 4
    temps = [cards.nth(i).get_attribute("data-temperature") for i in range(4)]
    assert temps == ["0.2", "0.5", "1", "1.2"]
    for i in range(4):
        assert len(cards.nth(i).locator(".generated").text_content()) == 60

    page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)

    # readable on a phone-width screen: one column, nothing wider than the viewport
    page.set_viewport_size({"width": 390, "height": 844})
    wait_js(page, "document.documentElement.scrollWidth <= 390")  # the lens redraws 100 ms after a resize
    box_prompt = page.locator("#prompt").bounding_box()
    box_lens = page.locator("#lens-chart").bounding_box()
    assert box_prompt["width"] <= 390 and box_lens["width"] <= 390
    page.screenshot(path=str(ARTIFACTS / "serve-page-phone.png"), full_page=True)

    assert errors == []
    page.close()


def open_page(browser, url: str, errors: list[str]):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def test_poetry_page_writes_poems_with_marks(browser, live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_page(browser, live_server.url + "/poetry", errors)
    # the same layout and styles as the text page, one navigation across the three pages
    assert page.locator("link[href='/static/style.css']").count() == 1
    nav = page.locator("header.site nav a").all_text_contents()
    assert nav[:3] == ["Text", "作诗姬", "Images"]
    assert page.get_attribute("nav a[aria-current='page']", "href") == "/poetry"
    assert "Noto Serif CJK SC" in page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--cjk-serif')")
    # fill the form from the keyboard: acrostic, tones switch, seed, then Ctrl+Enter
    page.focus("#acrostic")
    page.keyboard.type("春山")
    page.check("input[name=tones][value=strict]")
    page.fill("#seed", "3")
    page.fill("#num-samples", "1")
    page.select_option("#form", "五绝")
    page.focus("#seed")
    page.keyboard.press("Control+Enter")
    wait_js(page, "document.querySelector('#poem-status').textContent.includes('done')", timeout=120)
    poems = page.locator("#poems .poem")
    assert poems.count() == 1
    lines = poems.first.locator(".poem-line")
    assert lines.count() == 4
    assert lines.nth(0).locator(".char").first.text_content() == "春"
    assert lines.nth(1).locator(".char").first.text_content() == "山"
    for i in range(4):
        chars = lines.nth(i).locator(".char").all_text_contents()
        marks = lines.nth(i).locator(".mark").all_text_contents()
        assert len(chars) == len(marks) == 5
        assert set(marks) <= {"平", "仄", "中", "？"} and set(marks) & {"平", "仄"}
    assert poems.first.locator(".rhyme-tag").count() >= 1  # the rhyme group beside a rhyming line
    assert poems.first.locator(".rhyme-char").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "poetry-page.png"), full_page=True)
    assert errors == []
    page.close()


def _png(path: Path, seed: int) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    base = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1) + rng.integers(0, 40, (64, 64, 3))
    Image.fromarray(np.clip(base, 0, 255).astype("uint8")).save(path)
    return path


def test_image_page_paints_and_offers_a_download(browser, live_server, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_page(browser, live_server.url + "/images", errors)
    assert page.get_attribute("nav a[aria-current='page']", "href") == "/images"
    page.set_input_files("#content-file", str(_png(tmp_path / "content.png", 0)))
    page.set_input_files("#style-file", str(_png(tmp_path / "style.png", 1)))
    page.wait_for_selector("#previews img >> nth=1")
    page.fill("#size", "64")
    page.fill("#iterations", "4")
    page.click("#paint")
    page.wait_for_selector("#result-image", timeout=120_000)
    wait_js(page, "document.querySelector('#result-image').naturalWidth > 0", timeout=30)
    assert page.evaluate("document.querySelector('#result-image').naturalWidth") == 64
    assert page.evaluate("document.querySelector('#image-progress').value") == 1
    link = page.locator("#download")
    assert link.get_attribute("download") == "dreamwright-style.png"
    assert link.get_attribute("href").startswith("/v1/images/")
    page.screenshot(path=str(ARTIFACTS / "image-page.png"), full_page=True)
    # DeepDream needs no style image
    page.check("input[name=mode][value=dream]")
    assert page.is_hidden("#style-field")
    page.fill("#steps", "2")
    page.click("#paint")
    # the old result and its "Done" go the moment the new job is submitted
    assert not page.locator("#download").count()
    assert not page.text_content("#image-status").startswith("Done")
    wait_js(page, "document.querySelector('#image-status').textContent.startsWith('Done')", timeout=120)
    assert page.get_attribute("#download", "download") == "dreamwright-dream.png"
    assert errors == []
    page.close()


def test_image_page_draw_tab_draws_a_class_and_walks_between_two_seeds(browser, live_server):
    import httpx

    from tests.image.helpers import FASHION_CLASSES

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_page(browser, live_server.url + "/images", errors)
    assert page.is_hidden("#draw-page") and page.is_visible("#image-page")
    page.click("#tab-draw")
    assert page.is_hidden("#image-page") and page.get_attribute("#tab-draw", "aria-selected") == "true"
    # the classes come from the server's image model list
    page.wait_for_selector("#draw-class option[value='Sneaker']", state="attached")
    assert page.input_value("#draw-model") == "fashion-dcgan"
    values = page.eval_on_selector_all("#draw-class option", "os => os.map(o => o.value)")
    assert values == ["", *FASHION_CLASSES]  # "every class in turn", then each class

    page.select_option("#draw-class", "Sneaker")
    page.fill("#draw-n", "8")
    page.fill("#draw-seed", "3")
    page.click("#draw")
    wait_js(page, "document.querySelectorAll('#draw-grid img').length === 8")
    wait_js(page, "[...document.querySelectorAll('#draw-grid img')].every(i => i.naturalWidth === 28)")
    grid = page.locator("#draw-grid img")
    assert [grid.nth(i).get_attribute("data-class") for i in range(8)] == ["Sneaker"] * 8
    assert [grid.nth(i).get_attribute("data-seed") for i in range(8)] == [str(3 + i) for i in range(8)]
    # the grid is what the API draws for the same request
    api = httpx.post(live_server.base_url + "/images/generations",
                     json={"model": "fashion-dcgan", "prompt": "Sneaker", "n": 8, "seed": 3}, timeout=60).json()
    assert [grid.nth(i).get_attribute("src") for i in range(8)] == [
        "data:image/png;base64," + d["b64_json"] for d in api["data"]]

    # the slider walks from seed 3's sneaker to seed 9's
    page.fill("#walk-from", "3")
    page.fill("#walk-to", "9")
    page.click("#walk")
    wait_js(page, "!document.querySelector('#walk-view').hidden")
    assert page.get_attribute("#walk-slider", "max") == "15"
    assert page.text_content("#walk-value") == "step 0 / 15"
    first = page.get_attribute("#walk-image", "src")
    page.focus("#walk-slider")
    page.keyboard.press("End")
    wait_js(page, "document.querySelector('#walk-image').dataset.step === '15'")
    last = page.get_attribute("#walk-image", "src")
    page.keyboard.press("ArrowLeft")
    wait_js(page, "document.querySelector('#walk-image').dataset.step === '14'")
    assert len({first, last, page.get_attribute("#walk-image", "src")}) == 3
    walk = httpx.post(live_server.base_url + "/images/interpolations",
                      json={"model": "fashion-dcgan", "prompt": "Sneaker", "seed": 3, "to_seed": 9, "steps": 16},
                      timeout=60).json()
    assert first == "data:image/png;base64," + walk["data"][0]["b64_json"]
    assert last == "data:image/png;base64," + walk["data"][-1]["b64_json"]
    page.screenshot(path=str(ARTIFACTS / "image-page-draw.png"), full_page=True)
    assert errors == []
    page.close()


def test_chat_tab_talks_with_a_seq2seq_bot_and_a_language_model(browser, echo_bot_run, tiny_generator,
                                                                thread_server):
    from dreamwright.generation import Generator

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    bot = Generator.load(echo_bot_run, device="cpu")
    with thread_server({"tiny": tiny_generator, "echo": bot}) as server:
        errors: list[str] = []
        page = open_page(browser, server.url + "/", errors)
        assert page.is_visible("#text-page") and page.is_hidden("#chat-page")
        page.click("#tab-chat")
        assert page.is_hidden("#text-page") and page.get_attribute("#tab-chat", "aria-selected") == "true"
        page.wait_for_selector("#chat-model option[value='echo']", state="attached")
        assert page.input_value("#chat-model") == "echo"  # the seq2seq chatbot comes first
        assert "seq2seq" in page.text_content("#chat-kind")
        page.focus("#chat-temperature")
        page.keyboard.press("Home")
        assert page.text_content("#chat-temperature-value") == "0.00"

        def say(text: str, replies: int) -> str:
            page.fill("#chat-input", text)
            page.press("#chat-input", "Enter")
            wait_js(page, f"document.querySelectorAll('#chat-log .msg.assistant[data-finish]').length === {replies}")
            return page.locator("#chat-log .msg.assistant .text").nth(replies - 1).text_content()

        assert say("say pink", 1) == "pink pink!"
        # the second message goes with the first exchange, as the API would be asked
        expected = bot.generate(bot.chat_request([("user", "say pink"), ("assistant", "pink pink!"),
                                                  ("user", "say gold")], temperature=0, max_new_tokens=300))[0]
        assert say("say gold", 2) == expected
        assert page.locator("#chat-log .msg.user .text").all_text_contents() == ["say pink", "say gold"]
        page.screenshot(path=str(ARTIFACTS / "chat-tab.png"), full_page=True)
        page.click("#chat-reset")
        assert page.locator("#chat-log .msg").count() == 0
        assert say("say gold", 1) == bot.generate("say gold", temperature=0)[0]

        # a language model: it continues a transcript, and the tab says so
        page.select_option("#chat-model", "tiny")
        assert "language model" in page.text_content("#chat-kind")
        page.click("#chat-reset")
        page.fill("#chat-max-tokens", "20")
        assert len(say("the cat", 1)) > 0
        assert errors == []
        page.close()


def test_speak_tab_plays_a_digit_with_its_spectrogram(browser, audio_generator, tiny_generator, thread_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with thread_server({"tiny": tiny_generator, "digits": audio_generator}) as server:
        errors: list[str] = []
        page = open_page(browser, server.url + "/", errors)
        page.click("#tab-speak")
        assert page.is_hidden("#text-page") and page.get_attribute("#tab-speak", "aria-selected") == "true"
        # only the audio model is offered, with its digits and speakers
        page.wait_for_selector("#speak-model option[value='digits']", state="attached")
        assert page.locator("#speak-model option").count() == 1
        assert page.locator("#speak-digit option").all_text_contents() == [str(d) for d in range(10)]
        assert page.locator("#speak-voice option").all_text_contents() == ["jackson", "theo"]
        page.select_option("#speak-digit", "7")
        page.select_option("#speak-voice", "theo")
        page.fill("#speak-seconds", "0.1")
        page.click("#speak")
        wait_js(page, "document.querySelector('#speak-audio').src.startsWith('blob:')", timeout=60)
        wait_js(page, "document.querySelector('#speak-spectrogram').complete && "
                      "document.querySelector('#speak-spectrogram').naturalWidth > 0", timeout=60)
        assert "label=7 speaker=theo" in page.text_content("#speak-status")
        # the audio element can read the clip: 0.1 s long
        wait_js(page, "document.querySelector('#speak-audio').readyState >= 1")
        assert abs(page.evaluate("() => document.querySelector('#speak-audio').duration") - 0.1) < 0.01
        assert page.is_visible("#speak-spectrogram")
        page.screenshot(path=str(ARTIFACTS / "speak-tab.png"), full_page=True)
        # the arrow keys walk the three tabs
        page.focus("#tab-speak")
        page.keyboard.press("ArrowLeft")
        assert page.get_attribute("#tab-chat", "aria-selected") == "true" and page.is_hidden("#speak-page")
        assert errors == []
        page.close()
