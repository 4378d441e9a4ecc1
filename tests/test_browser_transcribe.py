"""The Transcribe page in real headless Chromium against the running app: demo, bad upload, a real AMI
recording (under a Markdown-laden file name) transcribed by the background worker, the Vega-Lite timeline, a
download, renaming a speaker (to a Markdown-laden name), both names shown literally, and the run kept in the
URL through Library → Transcribe and a reload."""

from __future__ import annotations

import json
import shutil
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import AMI_AUDIO

pytestmark = pytest.mark.browser

RECORDING = AMI_AUDIO / "trn00.flac"  # 30 s of a real AMI meeting, three speakers with overlap
# Text a person controls, full of Markdown that must not render (bold, a link, a colour, emphasis)
FILE_NAME = "**Q3** review [notes](x) :red[late] _draft_.flac"
SESSION_PREFIX = (
    "_Q3_review_notes_x_red_late__draft_"  # the file name as a session id (each run of other characters is one _)
)
SPEAKER_NAME = "*Alice* :blue[Example] [me](x)"


def page_text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def wait_text(browser, text: str, timeout_s: float) -> None:
    WebDriverWait(browser, timeout_s, poll_frequency=0.5).until(
        lambda b: text in page_text(b), f"'{text}' never appeared"
    )


def button(browser, label: str):
    # the label is the button's markdown paragraph (an icon, if any, sits beside it)
    return browser.find_element(By.XPATH, f"//button[.//p[normalize-space(.)='{label}']]")


TIMELINE = '[data-testid="stVegaLiteChart"] svg.marks'  # the page's one chart, drawn as SVG


def drawn_bars(browser) -> int:
    return browser.execute_script(f"return document.querySelectorAll('{TIMELINE} g.mark-rect path').length")


def chart_texts(browser, role: str) -> list[str]:
    """The timeline's drawn texts of a Vega role: axis-label (time ticks, speaker rows), legend-label."""
    return browser.execute_script(
        f"return [...document.querySelectorAll('{TIMELINE} g.role-{role} text')].map(t => t.textContent)"
    )


def upload(browser, path) -> None:
    browser.find_element(By.CSS_SELECTOR, "[data-testid='stFileUploader'] input[type='file']").send_keys(str(path))
    # the uploader lists the file (a long name is cut short there; its title holds the whole name)
    WebDriverWait(browser, 30, poll_frequency=0.3).until(
        lambda b: any(
            e.get_attribute("title") == path.name
            for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stFileChipName']")
        ),
        f"the uploader never listed {path.name}",
    )
    WebDriverWait(browser, 30).until(lambda b: button(b, "Transcribe").is_enabled())
    button(browser, "Transcribe").click()


def click(element) -> None:
    browser = element.parent
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def settled(browser, timeout_s: float = 60) -> None:
    """Wait until the page finished its rerun: Streamlit marks elements of the previous run stale."""
    WebDriverWait(browser, timeout_s, poll_frequency=0.3).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, "[data-stale='true']"), "the page never settled"
    )


def download_button(browser, suffix: str, timeout_s: float = 30):
    # Streamlit gives each keyed element a class from its key (key "download-<file name>", dots become dashes)
    css = f"[class*='st-key-download-'][class*='{suffix.replace('.', '-')}'] button"
    return WebDriverWait(browser, timeout_s, poll_frequency=0.3).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, css), f"no download button for *{suffix}"
    )[0]


def downloaded(browser, name_start: str, after: float, timeout_s: float = 30):
    def newest(_):
        files = [
            p
            for p in browser.download_dir.iterdir()
            if p.name.startswith(name_start) and not p.name.endswith(".crdownload") and p.stat().st_mtime >= after
        ]
        return max(files, key=lambda p: p.stat().st_mtime) if files else None

    return WebDriverWait(browser, timeout_s, poll_frequency=0.3).until(newest, f"no {name_start}* download")


def test_upload_transcribe_timeline_download_rename(app_server, browser, tmp_path):
    browser.get(app_server["url"])
    wait_text(browser, "demo_meeting.flac", 120)  # a first visit shows the ready demo
    WebDriverWait(browser, 30).until(lambda b: drawn_bars(b) > 0, "the demo timeline was not drawn")

    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("meeting notes, not a recording\n" * 50)
    upload(browser, not_audio)
    wait_text(browser, "This file is not audio in a supported format", 60)
    assert "Traceback" not in page_text(browser)

    recording = tmp_path / FILE_NAME
    shutil.copy(RECORDING, recording)
    demo_url = browser.current_url
    upload(browser, recording)
    WebDriverWait(browser, 60).until(
        lambda b: "run=" in b.current_url and b.current_url != demo_url, "the page never selected the new run"
    )
    run_url = browser.current_url
    browser.refresh()  # the job lives in the worker, and the URL brings the page back to it
    # the job runs in the worker while the page polls it; then the page shows the transcript's exports
    seglst_button = download_button(browser, ".seglst.json", timeout_s=240)
    settled(browser)
    assert_literal(browser, FILE_NAME)
    assert "Traceback" not in page_text(browser)
    WebDriverWait(browser, 30).until(lambda b: drawn_bars(b) > 0, "the timeline was not drawn")
    assert {"start of turn", "end of turn"} <= set(chart_texts(browser, "legend-label"))

    clicked_at = time.time() - 1
    click(seglst_button)
    rows = json.loads(downloaded(browser, SESSION_PREFIX, clicked_at).read_text())
    assert rows and {r["session_id"] for r in rows} == {SESSION_PREFIX}
    assert all(r["end_time"] > r["start_time"] for r in rows)
    first_speaker = rows[0]["speaker"]
    assert drawn_bars(browser) == len(rows)  # a bar per turn
    assert {r["speaker"] for r in rows} <= set(chart_texts(browser, "axis-label"))  # a row per speaker

    field = browser.find_element(By.CSS_SELECTOR, f"input[aria-label='Speaker {first_speaker}']")
    field.send_keys(Keys.CONTROL, "a")  # clear() does not reach React's state; typing over a selection does
    field.send_keys(SPEAKER_NAME)
    click(button(browser, "Save names"))
    wait_text(browser, SPEAKER_NAME + ":", 30)  # the transcript uses the new name, exactly as typed
    settled(browser)
    assert_literal(browser, SPEAKER_NAME)
    assert SPEAKER_NAME in chart_texts(browser, "axis-label")  # the timeline's row label too, as typed
    clicked_at = time.time() - 1
    click(download_button(browser, ".seglst.json"))
    renamed = json.loads(downloaded(browser, SESSION_PREFIX, clicked_at).read_text())
    assert [r["speaker"] for r in renamed] == [
        SPEAKER_NAME if r["speaker"] == first_speaker else r["speaker"] for r in rows
    ]

    # The run stays in the URL through the sidebar's pages and a reload.
    for page in ("Library", "Transcribe"):
        browser.execute_script(
            "[...document.querySelectorAll('[data-testid=\"stSidebar\"] a')]"
            ".find(a => a.innerText.trim().endsWith(arguments[0])).click()",
            page,
        )
        WebDriverWait(browser, 60).until(lambda b: page_url_has_run(b, run_url), f"{page}: the run left the URL")
        settled(browser)
    browser.refresh()
    wait_text(browser, FILE_NAME, 60)
    assert page_url_has_run(browser, run_url)


def run_param(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("run", [""])[0]


def page_url_has_run(browser, run_url: str) -> bool:
    return run_param(browser.current_url) == run_param(run_url) != ""


def assert_literal(browser, text: str) -> None:
    """`text` is on the page character for character, and no Markdown was made of it (bold, link, colour)."""
    assert text in page_text(browser)
    made = browser.execute_script(
        'return [...document.querySelectorAll(\'[data-testid="stMain"] strong, [data-testid="stMain"] em, '
        '[data-testid="stMain"] a, [data-testid="stMain"] [class*="colored"]\')].map(e => e.textContent)'
    )
    assert not [m for m in made if m and m in text], made
