"""A newcomer signs up, logs out, logs back in and switches the language — in Chromium."""

from playwright.sync_api import expect


def test_sign_up_log_in_and_switch_language(live_server, page):
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("marketplace")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Manufacturer").check()
    page.get_by_label("Legal name (Japanese)").fill("浪速電線工業株式会社")
    page.get_by_label("Legal name (English; optional for Japanese companies)").fill(
        "Naniwa Electric Wire"
    )
    page.get_by_label("Corporate number (法人番号, 13 digits)").fill("1180301018771")
    page.get_by_label("Prefecture").select_option("27")
    page.get_by_label("Your name").fill("Daisuke Sakai")
    page.get_by_label("E-mail").fill("buyer@naniwa.example.jp")
    page.get_by_label("Password").fill("a-good-long-password")
    page.get_by_label("Language").select_option("en")
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".flash")).to_contain_text("awaits verification")
    expect(page.get_by_role("heading", level=1)).to_contain_text("浪速電線工業株式会社")

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("E-mail").fill("buyer@naniwa.example.jp")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("Wrong e-mail address or password")
    page.get_by_label("Password").fill("a-good-long-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Daisuke Sakai")).to_be_visible()

    page.get_by_role("button", name="日本語").click()
    expect(page.get_by_role("button", name="ログアウト")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_logout_ends_the_session_even_for_a_copied_cookie_and_password_change(
    live_server, page, app
):
    from factories import PASSWORD, make_member, make_org
    from sqlmodel import Session

    with Session(app.extensions["junkan.engine"], expire_on_commit=False) as db:
        member = make_member(db, make_org(db, name_en="Kawaguchi Metals"))
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=member.name).click()
    expect(page.get_by_role("heading", name="Where you are logged in")).to_be_visible()
    expect(page.get_by_role("cell", name="This session")).to_be_visible()

    page.get_by_label("Current password", exact=True).fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-new-long-password")
    page.get_by_label("Repeat the new password").fill("a-new-long-password")
    page.get_by_role("button", name="Change the password").click()
    expect(page.locator(".flash")).to_contain_text("Your password is changed")

    copied = page.context.cookies()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".flash")).to_contain_text("You are logged out")
    page.context.add_cookies(copied)  # an attacker replays the cookie it copied
    page.goto(live_server + "/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
