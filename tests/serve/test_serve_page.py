"""The page at ``/`` in a real headless browser (Debian's chromium and chromedriver, driven by
Selenium): type a text, press Classify, see the label, the probabilities and the explanation.
Skipped, with the reason, where no browser is installed."""

from __future__ import annotations

import json
import shutil

import pytest
from serve_helpers import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.server,
    pytest.mark.browser,
    pytest.mark.process,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no headless browser: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def classify_on_page(browser, port: int, about: str, text: str):
    """Open the page, wait for the model's line to say ``about``, classify ``text``, wait for the
    result; returns the wait (30 s) for further checks."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"http://127.0.0.1:{port}/")
    wait = WebDriverWait(browser, 30)
    wait.until(EC.text_to_be_present_in_element((By.ID, "about"), about))
    browser.find_element(By.ID, "text").send_keys(text)
    browser.find_element(By.ID, "classify").click()
    wait.until(EC.visibility_of_element_located((By.ID, "result")))
    return wait


def test_the_page_classifies_a_typed_text(browser, tiny_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    from mgl.model.classifier import MGLClassifier

    server = Server(tiny_model, tmp_path)
    try:
        wait = classify_on_page(browser, server.port, "en (English) + de (German) → fr (French)", "very good book")
        want = MGLClassifier.from_pretrained(tiny_model).explain(["very good book"])[0]
        assert browser.find_element(By.ID, "label").text == want.label
        probs = {
            tr.find_elements(By.TAG_NAME, "td")[0].text: float(tr.find_elements(By.TAG_NAME, "td")[1].text)
            for tr in browser.find_elements(By.CSS_SELECTOR, "#probabilities tr")
        }
        assert probs == pytest.approx(want.probabilities, abs=1e-4)
        assert float(browser.find_element(By.ID, "self-weight").text) == pytest.approx(want.self_weight, abs=1e-4)
        shares = [tr.text for tr in browser.find_elements(By.CSS_SELECTOR, "#graph-shares tr")]
        assert [s.split()[1] for s in shares] == ["en", "de"]

        # an empty text is answered with the server's message, shown on the page
        browser.find_element(By.ID, "text").clear()
        browser.find_element(By.ID, "text").send_keys(" ")
        browser.find_element(By.ID, "classify").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "error"), "empty"))
        assert not browser.find_element(By.ID, "result").is_displayed()
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        server.stop()
    assert json.loads((tiny_model / "mgl_model.json").read_text())["target"] == "fr"


def test_the_page_shows_an_ensembles_method_and_neighbour_texts(browser, tiny_ensemble, tmp_path):
    from selenium.webdriver.common.by import By

    from mgl.model.classifier import Classifier

    server = Server(tiny_ensemble, tmp_path)
    try:
        classify_on_page(
            browser, server.port, "Method: ensemble (mgl, mix, logreg-pooled, logreg-chars)", "very good book"
        )
        want = Classifier.from_pretrained(tiny_ensemble).explain(["very good book"])[0]
        assert browser.find_element(By.ID, "label").text == want.label
        items = browser.find_elements(By.CSS_SELECTOR, "#neighbours li")
        assert len(items) == len(want.neighbours) == 5
        for li, n in zip(items, want.neighbours):
            assert n["text"] in li.text and n["label"] in li.text and n["id"] in li.text
        assert "carry the predicted label" in browser.find_element(By.ID, "agreement").text
        assert browser.find_element(By.ID, "graph-box").is_displayed()  # the MGL member's graph
        browser.save_screenshot(str(tmp_path / "ensemble-page.png"))
    finally:
        server.stop()


def test_the_page_asks_for_the_api_key_of_a_guarded_server(browser, tiny_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    keys = tmp_path / "keys.txt"
    keys.write_text("page-key-0123456789\n")
    server = Server(tiny_model, tmp_path, "--api-key-file", str(keys))
    try:
        browser.get(f"http://127.0.0.1:{server.port}/")
        wait = WebDriverWait(browser, 30)
        wait.until(EC.visibility_of_element_located((By.ID, "api-key")))
        browser.find_element(By.ID, "text").send_keys("very good book")
        browser.find_element(By.ID, "api-key").send_keys("wrong-key-0123456789")
        browser.find_element(By.ID, "classify").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "error"), "API key"))
        browser.find_element(By.ID, "api-key").clear()
        browser.find_element(By.ID, "api-key").send_keys("page-key-0123456789")
        browser.find_element(By.ID, "classify").click()
        wait.until(EC.visibility_of_element_located((By.ID, "result")))
        assert browser.find_element(By.ID, "label").text
        assert "en (English) + de (German) → fr (French)" in browser.find_element(By.ID, "about").text
    finally:
        server.stop()
