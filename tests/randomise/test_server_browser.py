"""Site staff's allocation page driven in headless Chromium (Debian's chromium + chromium-driver).

Skips only when the browser or its driver is not installed (``.ci/run`` installs them with
``apt-get install -y chromium chromium-driver``). Nothing is downloaded: Selenium is given the
system chromedriver and chromium explicitly. Set ``PEERTRIAL_SCREENSHOTS=DIR`` to keep the
screenshots of each step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from peertrial.randomise import Ledger  # noqa: E402

from .server_helpers import Server, make_trial  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="chromium/chromedriver not installed (apt-get install -y chromium "
                                       "chromium-driver)")


@pytest.fixture
def browser(monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1000,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, tmp_path, name):
    folder = Path(os.environ.get("PEERTRIAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _wait_title(driver, prefix):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: d.title.startswith(prefix))


def _wait_alert(driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=alert]"))


UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.name);
"""


def test_site_staff_allocate_in_the_browser(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    db, sched, tokens = make_trial(tmp_path)
    with Server(db, tmp_path / "server.log") as server:
        base = f"http://127.0.0.1:{server.port}"
        browser.get(base + "/")
        assert browser.title.startswith("Sign in")
        assert browser.execute_script(UNLABELLED) == []
        _shot(browser, tmp_path, "1-sign-in")
        browser.find_element(By.ID, "token").send_keys("not a token")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        _wait_alert(browser)
        assert "not valid" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
        browser.find_element(By.ID, "token").send_keys(tokens["site2"])
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        _wait_title(browser, "Allocate a participant")
        assert browser.execute_script(UNLABELLED) == []
        site = browser.find_element(By.ID, "stratum-site")
        assert site.get_attribute("value") == "2" and site.get_attribute("readonly") is not None
        browser.find_element(By.ID, "participant").send_keys("ENR-0042")
        Select(browser.find_element(By.ID, "stratum-diagnosis")).select_by_visible_text("personality")
        _shot(browser, tmp_path, "2-form")
        browser.find_element(By.XPATH, "//button[text()='Continue']").click()

        _wait_title(browser, "Confirm the allocation")
        assert "ENR-0042" in browser.find_element(By.TAG_NAME, "dl").text
        _shot(browser, tmp_path, "3-confirm")
        browser.find_element(By.ID, "confirm").click()

        _wait_title(browser, "Allocation")
        arm = browser.find_element(By.ID, "arm").text
        receipt = browser.find_element(By.ID, "receipt").text
        expected = sched.query("site == 2 and diagnosis == 'personality' and seq == 1")["arm"].item()
        assert arm == expected and len(receipt) == 64
        assert browser.find_element(By.ID, "result").get_attribute("role") == "status"
        _shot(browser, tmp_path, "4-result")

        # a wrong id is refused with a message a screen reader announces
        browser.get(base + "/")
        _wait_title(browser, "Allocate a participant")
        browser.find_element(By.ID, "participant").send_keys(" ENR-0043")
        Select(browser.find_element(By.ID, "stratum-diagnosis")).select_by_visible_text("other")
        browser.find_element(By.XPATH, "//button[text()='Continue']").click()
        _wait_alert(browser)
        assert "whitespace" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text

        # no request to anything but the service itself
        hosts = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).host);")
        assert all(h == f"127.0.0.1:{server.port}" for h in hosts)

    with Ledger(db) as led:
        assert led.receipt("ENR-0042") == {**led.receipt("ENR-0042"), "arm": arm, "receipt": receipt}
        assert led.verify(head=receipt)
