"""Device classes and bot flags of real user agents, and the once-per-distinct-string contract."""

from __future__ import annotations

import polars as pl
import pytest
import ua_parser

from data.reference import load_bot_patterns
from transforms.devices import DEVICE_TYPES, USER_AGENT_CLASSES, add_device_classes, classify_user_agents

BOT_PATTERNS = load_bot_patterns()

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
GALAXY_TAB = (
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CURL = "curl/8.7.1"

# (id, user agent, device_type, is_bot)
CASES = [
    # iPhone
    ("iphone-safari-17", IPHONE_SAFARI, "mobile", False),
    (
        "iphone-safari-18",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "mobile",
        False,
    ),
    (
        "iphone-chrome-crios",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "mobile",
        False,
    ),
    (
        "iphone-firefox-fxios",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
        "mobile",
        False,
    ),
    (
        "iphone-edge-edgios",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 EdgiOS/125.2535.60 Mobile/15E148 Safari/605.1.15",
        "mobile",
        False,
    ),
    (
        "iphone-google-app-gsa",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "GSA/322.0.648915268 Mobile/15E148 Safari/604.1",
        "mobile",
        False,
    ),
    # iPad (old-style UA; iPadOS 13+ Safari sends the macOS UA and counts as desktop)
    (
        "ipad-safari",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "tablet",
        False,
    ),
    (
        "ipad-chrome-crios",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "tablet",
        False,
    ),
    # Android phones
    (
        "android-samsung-internet-s24",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-samsung-chrome-s23",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-chrome-reduced-ua",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-pixel-chrome",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-pixel-webview",
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-xiaomi-miui-browser",
        "Mozilla/5.0 (Linux; U; Android 13; en-us; 2201116SG Build/TKQ1.221114.001) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 "
        "XiaoMi/MiuiBrowser/14.10.1.1-gn",
        "mobile",
        False,
    ),
    (
        "android-xiaomi-redmi-chrome",
        "Mozilla/5.0 (Linux; Android 13; 23021RAAEG) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-firefox-phone",
        "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
        "mobile",
        False,
    ),
    (
        "android-opera",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 OPR/83.0.0.0",
        "mobile",
        False,
    ),
    (
        "android-huawei-browser",
        "Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/114.0.5735.196 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "android-cubot-is-not-a-bot",
        "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
        False,
    ),
    (
        "kaios-feature-phone",
        "Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
        "mobile",
        False,
    ),
    # Android tablets
    ("android-galaxy-tab-samsung-internet", GALAXY_TAB, "tablet", False),
    (
        "android-galaxy-tab-chrome",
        "Mozilla/5.0 (Linux; Android 13; SM-X205) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "tablet",
        False,
    ),
    (
        "android-tablet-reduced-ua",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "tablet",
        False,
    ),
    (
        "android-firefox-tablet",
        "Mozilla/5.0 (Android 14; Tablet; rv:127.0) Gecko/127.0 Firefox/127.0",
        "tablet",
        False,
    ),
    (
        "android-kindle-fire-silk",
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.6 "
        "like Chrome/124.0.6367.219 Safari/537.36",
        "tablet",
        False,
    ),
    (
        "android-lenovo-tab",
        "Mozilla/5.0 (Linux; Android 12; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36",
        "tablet",
        False,
    ),
    # Windows
    ("windows-chrome", WINDOWS_CHROME, "desktop", False),
    (
        "windows-edge",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "desktop",
        False,
    ),
    (
        "windows-firefox",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        False,
    ),
    (
        "windows-opera",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0",
        "desktop",
        False,
    ),
    (
        "windows-ie11",
        "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "desktop",
        False,
    ),
    (
        "windows-discord-desktop-app",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "discord/1.0.9150 Chrome/120.0.6099.291 Electron/28.2.10 Safari/537.36",
        "desktop",
        False,
    ),
    # macOS
    (
        "macos-safari",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "desktop",
        False,
    ),
    (
        "macos-chrome",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        False,
    ),
    (
        "macos-firefox",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        False,
    ),
    (
        "macos-edge",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "desktop",
        False,
    ),
    (
        "macos-slack-desktop-app",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Slack/4.38.125 Chrome/124.0.6367.243 Electron/30.1.0 Safari/537.36 Sonic Slack_SSB/4.38.125",
        "desktop",
        False,
    ),
    # Linux and ChromeOS
    (
        "linux-firefox",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        False,
    ),
    (
        "linux-ubuntu-firefox",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        False,
    ),
    (
        "linux-chrome",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        False,
    ),
    (
        "chromeos-x86",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        False,
    ),
    (
        "chromeos-arm",
        "Mozilla/5.0 (X11; CrOS aarch64 15917.71.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
        "desktop",
        False,
    ),
    # In-app browsers
    (
        "facebook-in-app-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/469.0.0.37.103;FBBV/612330482;FBDV/iPhone15,2;FBMD/iPhone;"
        "FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/614209823]",
        "mobile",
        False,
    ),
    (
        "facebook-in-app-android",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/468.1.0.56.78;]",
        "mobile",
        False,
    ),
    (
        "facebook-in-app-ipad",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/469.0.0.37.103;FBBV/612330482;FBDV/iPad13,18;FBMD/iPad;"
        "FBSN/iPadOS;FBSV/17.5;FBSS/2;FBID/tablet;FBLC/en_US;FBOP/5;FBRV/614209823]",
        "tablet",
        False,
    ),
    (
        "instagram-in-app-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 Instagram 337.0.3.23.54 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; "
        "1170x2532; 614244624)",
        "mobile",
        False,
    ),
    (
        "instagram-in-app-android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240605.024; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36 Instagram "
        "337.0.0.35.102 Android (34/14; 420dpi; 1080x2205; Google/google; Pixel 8; shiba; shiba; "
        "en_US; 614226370)",
        "mobile",
        False,
    ),
    (
        "tiktok-in-app-iphone-musical-ly",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 musical_ly_35.1.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en "
        "Region/US isDarkMode/0 WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6",
        "mobile",
        False,
    ),
    (
        "tiktok-in-app-android-trill",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 trill_350103 "
        "JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/trill app_version/35.1.3 ByteLocale/en "
        "ByteFullLocale/en Region/GB Spark/1.5.6.3-bugfix AppVersion/35.1.3 BytedanceWebview/d8a21c6",
        "mobile",
        False,
    ),
    (
        "tiktok-in-app-android-musical-ly",
        "Mozilla/5.0 (Linux; Android 12; moto g(60) Build/S2RIS32.32-20-9-11; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 "
        "musical_ly_2023303030 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly "
        "app_version/33.3.3 ByteLocale/en ByteFullLocale/en Region/US AppId/1233 "
        "Spark/1.5.0.6-bugfix AppVersion/33.3.3 BytedanceWebview/d8a21c6",
        "mobile",
        False,
    ),
    (
        "snapchat-in-app-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 Snapchat/13.0.0.38 (like Safari/8617.1.17.10.9, panda)",
        "mobile",
        False,
    ),
    (
        "linkedin-in-app-iphone-is-not-linkedinbot",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [LinkedInApp]/9.29.8612",
        "mobile",
        False,
    ),
    (
        "telegram-in-app-android-is-not-telegrambot",
        "Mozilla/5.0 (Linux; Android 13; SM-A546B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 "
        "Telegram-Android/10.14.5 (Samsung SM-A546B; Android 13; SDK 33; AVERAGE)",
        "mobile",
        False,
    ),
    # Search crawlers
    (
        "googlebot-desktop",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html) Chrome/126.0.6478.126 Safari/537.36",
        "other",
        True,
    ),
    ("googlebot-classic", GOOGLEBOT, "other", True),
    (
        "googlebot-smartphone",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "mobile",
        True,
    ),
    (
        "bingbot",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "other",
        True,
    ),
    (
        "bingbot-chromium",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "other",
        True,
    ),
    (
        "yandexbot",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "other",
        True,
    ),
    (
        "baiduspider",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "other",
        True,
    ),
    (
        "applebot",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "desktop",
        True,
    ),
    (
        "gptbot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "other",
        True,
    ),
    (
        "ahrefsbot",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "other",
        True,
    ),
    # Link-preview fetchers
    (
        "facebookexternalhit",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "other",
        True,
    ),
    (
        "meta-externalagent",
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "other",
        True,
    ),
    (
        "imessage-link-preview",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
        "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "desktop",
        True,
    ),
    ("slackbot-link-expanding", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "other", True),
    ("whatsapp-android", "WhatsApp/2.23.20.0 A", "other", True),
    ("whatsapp-iphone", "WhatsApp/2.24.6.77 i", "other", True),
    ("twitterbot", "Twitterbot/1.0", "other", True),
    ("discordbot", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "other", True),
    (
        "linkedinbot",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "other",
        True,
    ),
    ("telegrambot", "TelegramBot (like TwitterBot)", "other", True),
    (
        "skype-teams-uri-preview",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
        "desktop",
        True,
    ),
    ("redditbot", "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)", "other", True),
    ("iframely", "Iframely/1.3.1 (+https://iframely.com/docs/about) Atlassian", "other", True),
    ("mastodon-preview", "http.rb/5.1.1 (Mastodon/4.2.10; +https://mastodon.social/)", "mobile", True),
    (
        "snapchat-url-preview",
        "Snap URL Preview Service; bot; snapchat; https://developers.snap.com/robots",
        "other",
        True,
    ),
    # Headless browsers and auditors
    (
        "headless-chrome-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.6478.126 Safari/537.36",
        "desktop",
        True,
    ),
    (
        "headless-chrome-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
        "desktop",
        True,
    ),
    (
        "phantomjs",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "desktop",
        True,
    ),
    (
        "chrome-lighthouse",
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "mobile",
        True,
    ),
    # HTTP libraries and command-line clients
    ("curl", CURL, "other", True),
    ("wget", "Wget/1.21.4", "other", True),
    ("python-requests", "python-requests/2.32.3", "other", True),
    ("python-httpx", "python-httpx/0.27.0", "other", True),
    ("python-urllib", "Python-urllib/3.12", "other", True),
    ("aiohttp", "Python/3.12 aiohttp/3.9.5", "other", True),
    ("scrapy", "Scrapy/2.11.2 (+https://scrapy.org)", "other", True),
    ("go-http-client-1", "Go-http-client/1.1", "other", True),
    ("go-http-client-2", "Go-http-client/2.0", "other", True),
    ("okhttp", "okhttp/4.12.0", "other", True),
    ("java", "Java/17.0.11", "other", True),
    ("apache-httpclient", "Apache-HttpClient/4.5.14 (Java/17.0.11)", "other", True),
    ("axios", "axios/1.7.2", "other", True),
    ("node-fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "other", True),
    ("postman", "PostmanRuntime/7.39.0", "other", True),
    ("httpie", "HTTPie/3.2.2", "mobile", True),
    (
        "powershell",
        "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.2",
        "desktop",
        True,
    ),
    ("dart", "Dart/3.4 (dart:io)", "other", True),
    # Monitoring
    ("uptimerobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "other", True),
    ("pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "other", True),
    # TVs and consoles
    (
        "samsung-tizen-tv",
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/6.5 TV Safari/537.36",
        "other",
        False,
    ),
    (
        "lg-webos-tv",
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 Safari/537.36 WebAppManager",
        "other",
        False,
    ),
    (
        "chromecast",
        "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 "
        "Safari/537.36 CrKey/1.56.500000 DeviceType/Chromecast",
        "other",
        False,
    ),
    (
        "fire-tv-webview",
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7633.3445N; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
        "other",
        False,
    ),
    (
        "xbox-edge",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/108.0.0.0 Safari/537.36 Edg/108.0.1462.54",
        "other",
        False,
    ),
    (
        "playstation-5",
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
        "other",
        False,
    ),
    (
        "nintendo-switch",
        "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393",
        "other",
        False,
    ),
    # Missing or unrecognisable
    ("empty-string", "", "other", False),
    ("whitespace-only", " \t ", "other", False),
    ("null", None, "other", False),
    ("dash-placeholder", "-", "other", False),
    ("bare-mozilla", "Mozilla/5.0", "other", False),
]


def _frame(user_agents: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"user_agent": user_agents}, schema={"user_agent": pl.String})


@pytest.mark.parametrize(
    ("user_agent", "device_type", "is_bot"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_classifies_real_user_agent(user_agent: str | None, device_type: str, is_bot: bool) -> None:
    classified = add_device_classes(_frame([user_agent]), BOT_PATTERNS)

    assert classified.select("device_type", "is_bot").row(0) == (device_type, is_bot)


def test_case_table_is_large_and_uses_every_device_type() -> None:
    ids = [case[0] for case in CASES]

    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60
    assert {case[2] for case in CASES} == set(DEVICE_TYPES)


def test_classify_user_agents_returns_one_row_per_distinct_non_null_string() -> None:
    user_agents = pl.Series([IPHONE_SAFARI, CURL, None, IPHONE_SAFARI, "", CURL, None, IPHONE_SAFARI, ""])

    classes = classify_user_agents(user_agents, BOT_PATTERNS)

    assert classes.height == 3
    assert classes.get_column("user_agent").is_unique().all()
    assert set(classes.get_column("user_agent")) == {IPHONE_SAFARI, CURL, ""}
    assert dict(zip(classes["user_agent"], classes["is_bot"], strict=True)) == {
        IPHONE_SAFARI: False,
        CURL: True,
        "": False,
    }


def test_each_distinct_string_reaches_the_parser_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real_parser = ua_parser.parser
    seen: list[str] = []

    def counting_parser(user_agent: str, domains: ua_parser.Domain) -> ua_parser.PartialResult:
        seen.append(user_agent)
        return real_parser(user_agent, domains)

    monkeypatch.setattr(ua_parser, "parser", counting_parser)
    distinct = [IPHONE_SAFARI, WINDOWS_CHROME, GALAXY_TAB, GOOGLEBOT, CURL]
    events = _frame([distinct[i % len(distinct)] for i in range(10_000)] + [None] * 100)

    classified = add_device_classes(events, BOT_PATTERNS)

    assert sorted(seen) == sorted(distinct)
    assert classified.height == events.height


def test_add_device_classes_preserves_rows_order_and_other_columns() -> None:
    user_agents = [GOOGLEBOT, None, IPHONE_SAFARI, "", WINDOWS_CHROME, IPHONE_SAFARI, CURL, None, GALAXY_TAB, "  "]
    events = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(user_agents))],
            "user_agent": user_agents,
            "views": list(range(len(user_agents), 0, -1)),
        },
        schema={"event_id": pl.String, "user_agent": pl.String, "views": pl.Int64},
    )

    classified = add_device_classes(events, BOT_PATTERNS)

    assert classified.columns == ["event_id", "user_agent", "views", "device_type", "is_bot"]
    assert classified.schema["device_type"] == pl.String
    assert classified.schema["is_bot"] == pl.Boolean
    assert classified.select(events.columns).equals(events)
    assert classified.get_column("device_type").to_list() == [
        "other",
        "other",
        "mobile",
        "other",
        "desktop",
        "mobile",
        "other",
        "other",
        "tablet",
        "other",
    ]
    assert classified.get_column("is_bot").to_list() == [
        True,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
    ]


def test_add_device_classes_never_yields_nulls_on_a_large_frame() -> None:
    pool = [case[1] for case in CASES]
    events = _frame([pool[(i * 7) % len(pool)] for i in range(50_000)])

    classified = add_device_classes(events, BOT_PATTERNS)

    assert classified.height == events.height
    assert classified.get_column("user_agent").equals(events.get_column("user_agent"))
    assert classified.get_column("device_type").null_count() == 0
    assert classified.get_column("is_bot").null_count() == 0
    assert set(classified.get_column("device_type")) <= set(DEVICE_TYPES)


def test_output_schema_matches_user_agent_classes() -> None:
    classes = classify_user_agents(pl.Series([IPHONE_SAFARI, None, CURL]), BOT_PATTERNS)

    assert classes.schema == USER_AGENT_CLASSES


def test_empty_and_all_null_inputs_keep_the_schema() -> None:
    empty = classify_user_agents(pl.Series([], dtype=pl.String), BOT_PATTERNS)
    all_null = classify_user_agents(pl.Series([None, None], dtype=pl.String), BOT_PATTERNS)
    no_rows = add_device_classes(_frame([]), BOT_PATTERNS)

    assert empty.schema == USER_AGENT_CLASSES
    assert empty.height == 0
    assert all_null.schema == USER_AGENT_CLASSES
    assert all_null.height == 0
    assert no_rows.schema == pl.Schema({"user_agent": pl.String, "device_type": pl.String, "is_bot": pl.Boolean})


def test_without_patterns_only_the_library_flags_bots() -> None:
    classes = classify_user_agents(pl.Series([GOOGLEBOT, CURL, IPHONE_SAFARI]), [])

    assert dict(zip(classes["user_agent"], classes["is_bot"], strict=True)) == {
        GOOGLEBOT: True,
        CURL: False,
        IPHONE_SAFARI: False,
    }


def test_patterns_match_case_insensitively() -> None:
    classes = classify_user_agents(pl.Series(["CURL/8.7.1", "Curl/8.7.1"]), [r"\bcurl/"])

    assert classes.get_column("is_bot").to_list() == [True, True]


def test_blank_user_agents_are_not_bots_even_if_a_pattern_matches_them() -> None:
    classes = classify_user_agents(pl.Series(["", "   "]), [r"^\s*$"])

    assert classes.get_column("is_bot").to_list() == [False, False]
    assert classes.get_column("device_type").to_list() == ["other", "other"]


def test_every_shipped_bot_pattern_compiles_in_polars() -> None:
    probe = pl.Series([WINDOWS_CHROME])

    for pattern in BOT_PATTERNS:
        assert probe.str.contains(f"(?i){pattern}").to_list() == [False], pattern
