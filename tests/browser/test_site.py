"""The course site in headless Chromium: the home page, one notebook with its outputs and the
results page, opened as a reader opens them (``make site`` first; built here when missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import OUT, ROOT

HTML = ROOT / "build" / "site" / "html"


def _build_site() -> None:
    from conftest import load_script  # tests/conftest.py

    assert load_script("tools/build_site.py").build() == 0, "make site failed (see above)"


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "index.html").is_file():
        _build_site()
    return HTML


def _shown_images(driver) -> list[int]:
    """Natural widths of the page's loaded images (0: broken)."""
    return driver.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0);")


def test_home_page_leads_to_a_notebook_with_its_figures(driver, site: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site / "index.html").as_uri())
    assert "MS-FANS" in driver.title
    widths = _shown_images(driver)
    assert widths and all(w > 0 for w in widths), f"home page images {widths}"
    links = [a for a in driver.find_elements(By.CSS_SELECTOR, "nav a")
             if "03_shallow_cnn_scales" in (a.get_attribute("href") or "")]
    assert links, "the site's navigation has no link to notebook 03"
    driver.execute_script("arguments[0].click();", links[0])
    assert driver.current_url.endswith("notebooks/03_shallow_cnn_scales.html")
    assert "Table II" in driver.title, driver.title
    widths = _shown_images(driver)
    assert widths and all(w > 0 for w in widths), f"notebook 03's figures {widths}"
    OUT.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(OUT / "site_03.png"))


def test_results_page_has_its_tables(driver, site: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get((site / "docs" / "results.html").as_uri())
    tables = driver.find_elements(By.CSS_SELECTOR, "article table")
    assert len(tables) >= 10, f"{len(tables)} tables on the results page"
    assert any("MS-FANS" in t.text for t in tables)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"console errors: {errors}"
