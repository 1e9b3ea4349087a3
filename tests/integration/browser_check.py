#!/usr/bin/python3
"""browser_check.py - weftd's HTTP side in a real browser (headless
Chromium through Selenium and chromedriver, Debian's packages).

    /usr/bin/python3 browser_check.py URL UPLOAD_FILE DOWNLOAD_DIR SHOT.png

Opens the library's listing at URL, enters the folder "docs", uploads
UPLOAD_FILE with the page's form, checks the listing shows it, opens it
(a text file: the browser shows it) and downloads a binary file of the
folder ("data.bin") by clicking its link, into DOWNLOAD_DIR. Saves a
screenshot of the folder's listing after the upload as SHOT.png. Prints
one line per step; exit 0 when every step held, 1 otherwise.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def step(msg):
    print("browser: " + msg, flush=True)


def wait_for(cond, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception:  # the page may be between two loads
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def main():
    url, upload, downloads, shot = sys.argv[1:5]
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1100,800"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
    })
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        links = [a.text for a in driver.find_elements(By.CSS_SELECTOR,
                                                      "tbody a")]
        assert "docs/" in links, "the listing lacks docs/: %r" % links
        step("the listing shows %d entries" % len(links))

        driver.find_element(By.LINK_TEXT, "docs/").click()
        wait_for(lambda: driver.current_url.endswith("/docs/"),
                 "the docs folder")
        crumbs = driver.find_element(By.TAG_NAME, "nav").text
        assert "docs" in crumbs, "breadcrumb: %r" % crumbs
        step("entered docs/ (breadcrumb: %s)" % crumbs.strip())

        name = os.path.basename(upload)
        driver.find_element(By.CSS_SELECTOR,
                            "input[type=file]").send_keys(upload)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: name in [a.text for a in driver.find_elements(
            By.CSS_SELECTOR, "tbody a")], "the uploaded file in the listing")
        assert driver.current_url.endswith("/docs/"), driver.current_url
        step("uploaded %s with the form; the listing shows it" % name)
        driver.save_screenshot(shot)
        step("screenshot: %s" % shot)

        driver.find_element(By.LINK_TEXT, name).click()
        wait_for(lambda: driver.current_url.endswith("/docs/" + name),
                 "the uploaded file's page")
        with open(upload, encoding="utf-8") as f:
            want = f.read().strip()
        got = driver.find_element(By.TAG_NAME, "body").text.strip()
        assert got == want, "the browser shows %r, not %r" % (got, want)
        step("opened %s: the browser shows what was uploaded" % name)

        driver.back()
        wait_for(lambda: driver.current_url.endswith("/docs/"),
                 "back to docs/")
        driver.find_element(By.LINK_TEXT, "data.bin").click()
        target = os.path.join(downloads, "data.bin")
        wait_for(lambda: os.path.exists(target) and not os.path.exists(
            target + ".crdownload"), "the download of data.bin", 30)
        step("downloaded data.bin by its link (%d bytes)" %
             os.path.getsize(target))
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("browser: FAIL: %s" % e, flush=True)
        sys.exit(1)
