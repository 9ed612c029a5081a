"""The credentials and settings pages end to end: a stored secret never reaches the page
(neither its DOM nor any response), settings and variables change on the server."""

from __future__ import annotations

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import same_origin  # noqa: E402

SECRET = "sk-e2e-never-shown-7f3a9c"
SECRET_2 = "sk-e2e-replaced-51b2d8"


def test_credentials_are_written_but_their_secrets_never_shown(page) -> None:
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.get_by_role("link", name="Credentials").click()
    page.get_by_role("heading", name="Credentials").wait_for()
    page.get_by_text("No credentials yet").wait_for()

    page.get_by_role("button", name="New credential").click()
    dialog = page.get_by_role("dialog", name="New credential")
    dialog.get_by_label("Name").fill("OpenAI (team)")
    dialog.get_by_label("Kind").select_option("openai")
    key = dialog.get_by_role("textbox", name="Api key")
    expect(key).to_have_attribute("type", "password")
    key.fill(SECRET)
    dialog.get_by_role("textbox", name="Base url").fill("http://127.0.0.1:9/v1")
    dialog.get_by_role("button", name="Create").click()
    row = page.get_by_test_id("credential-row").filter(has_text="OpenAI (team)")
    expect(row).to_contain_text("api_key")
    expect(row).to_contain_text("base_url")
    expect(row).not_to_contain_text("organization")

    # The edit form says which fields are set, and shows none of their values.
    row.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit “OpenAI (team)”")
    key = dialog.get_by_role("textbox", name="Api key")
    expect(key).to_have_value("")
    expect(dialog.get_by_role("textbox", name="Base url")).to_have_value("")
    dialog.get_by_test_id("set-api_key").wait_for()
    dialog.get_by_test_id("set-base_url").wait_for()
    expect(key).to_have_attribute("placeholder", "stored: type to replace")
    screenshot(page, "credential-edit")
    assert SECRET not in page.content()
    assert SECRET not in str(key.evaluate("input => input.value"))

    # Renamed without touching the key, then the key replaced.
    dialog.get_by_label("Name").fill("OpenAI")
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="detached")
    # (the row as renamed: until the list reads the new name, "OpenAI" finds the old one)
    row = page.get_by_test_id("credential-row").filter(has_text="OpenAI", has_not_text="team")
    expect(row).to_contain_text("api_key")
    row.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit “OpenAI”")
    dialog.get_by_role("textbox", name="Api key").fill(SECRET_2)
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="detached")
    screenshot(page, "credentials")
    assert SECRET not in page.content()
    assert SECRET_2 not in page.content()

    for response in responses:
        if "/api/" in response.url and response.request.method != "DELETE":
            body = response.text()
            assert SECRET not in body, response.url
            assert SECRET_2 not in body, response.url
    assert any("/api/v1/credentials" in r.url and r.request.method == "PUT" for r in responses)

    row.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("No credentials yet").wait_for()


def test_settings_and_variables_change_on_the_server(page) -> None:
    request = page.context.request
    credential = request.post(
        "/api/v1/credentials",
        data={"name": "Local model", "kind": "ollama", "data": {}},
        headers=same_origin(page),
    ).json()
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("heading", name="Settings").wait_for()

    execution = page.get_by_role("region", name="Execution")
    execution.get_by_label("Limit of http").fill("7")
    execution.get_by_label("Retention days").fill("30")
    execution.get_by_role("button", name="Save").click()
    execution.get_by_role("status").filter(has_text="Saved").wait_for()
    settings = request.get("/api/v1/settings").json()
    assert settings["pools"]["http"] == 7
    assert settings["retention_max_age_days"] == 30

    chain = page.get_by_role("region", name="AI default models")
    chain.get_by_role("button", name="Add a model").click()
    chain.get_by_label("Provider 1").select_option(credential["id"])
    chain.get_by_label("Model 1", exact=True).fill("llama3.2")
    chain.get_by_role("button", name="Save").click()
    chain.get_by_role("status").filter(has_text="Saved").wait_for()
    assert request.get("/api/v1/settings").json()["ai_default_models"] == [
        {"credential": credential["id"], "model": "llama3.2"}
    ]

    page.locator(".page-body").evaluate("element => element.scrollTo(0, 0)")
    screenshot(page, "settings")

    variables = page.get_by_role("region", name="Variables")
    variables.get_by_role("button", name="Add a variable").click()
    dialog = page.get_by_role("dialog", name="New variable")
    dialog.get_by_label("Variable name").fill("greeting")
    dialog.get_by_label("Variable value").fill("Hello")
    dialog.get_by_role("button", name="Save").click()
    row = variables.get_by_test_id("variable-row").filter(has_text="greeting")
    expect(row).to_contain_text('"Hello"')
    row.get_by_role("button", name="Edit").click()
    page.get_by_role("dialog", name="Edit greeting").get_by_label("Variable value").fill(
        '{"en": "Hello", "fr": "Bonjour"}'
    )
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Bonjour")
    assert request.get("/api/v1/variables/greeting").json()["value"] == {
        "en": "Hello",
        "fr": "Bonjour",
    }
    row.get_by_role("button", name="Delete greeting").click()
    expect(variables.get_by_test_id("variable-row")).to_have_count(0)
    assert request.get("/api/v1/variables/greeting").status == 404

    # Not a number: nothing is sent (an empty retention would keep everything).
    execution.get_by_label("Retention days").fill("soon")
    execution.get_by_role("button", name="Save").click()
    execution.get_by_role("alert").filter(has_text="numbers").wait_for()
    assert request.get("/api/v1/settings").json()["retention_max_age_days"] == 30
