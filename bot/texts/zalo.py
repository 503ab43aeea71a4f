"""Texts of the zalo area, Vietnamese (with full diacritics) and English side by side.
Merged into the catalogues by bot/texts/__init__.py."""

VI: dict[str, str] = {
    # Why a notice was held (handlers/track.py shows "zalo.held.<reason>").
    "zalo.held.charged_band": "UBND gửi thông báo này qua tin nhắn mẫu Zalo tới số điện thoại bạn đã cung cấp",
    # The administrator's browser after `tiepdan zalo authorize` (bot/channels/zalo_oauth.py).
    "zalo.oauth.done": "Đã kết nối Zalo Official Account với tiepdan. Bạn có thể đóng trang này.",
    "zalo.oauth.unknown_state": "Liên kết cấp quyền không hợp lệ hoặc đã được dùng. "
                                "Hãy chạy lại lệnh «tiepdan zalo authorize» và mở liên kết mới.",
    "zalo.oauth.expired": "Liên kết cấp quyền đã hết hạn (15 phút). "
                          "Hãy chạy lại lệnh «tiepdan zalo authorize» và mở liên kết mới.",
    "zalo.oauth.refused": "Zalo không chấp nhận mã cấp quyền. Hãy kiểm tra App ID, khóa bí mật của ứng dụng "
                          "và chạy lại lệnh «tiepdan zalo authorize».",
    "zalo.oauth.unreachable": "Chưa kết nối được máy chủ Zalo để hoàn tất cấp quyền. "
                              "Hãy chạy lại lệnh «tiepdan zalo authorize» sau ít phút.",
    "zalo.oauth.denied": "Quyền chưa được cấp cho ứng dụng. "
                         "Hãy chạy lại lệnh «tiepdan zalo authorize» và chọn «Cho phép».",
}

EN: dict[str, str] = {
    "zalo.held.charged_band": "the commune sends this notice as a Zalo template message to the phone number you gave",
    "zalo.oauth.done": "The Zalo Official Account is connected to tiepdan. You may close this page.",
    "zalo.oauth.unknown_state": "This authorisation link is not valid or was already used. "
                                "Run «tiepdan zalo authorize» again and open the new link.",
    "zalo.oauth.expired": "This authorisation link has expired (15 minutes). "
                          "Run «tiepdan zalo authorize» again and open the new link.",
    "zalo.oauth.refused": "Zalo did not accept the authorisation code. Check the app id and the app's secret key, "
                          "then run «tiepdan zalo authorize» again.",
    "zalo.oauth.unreachable": "Zalo's server could not be reached to finish the authorisation. "
                              "Run «tiepdan zalo authorize» again in a few minutes.",
    "zalo.oauth.denied": "The app was not given permission. Run «tiepdan zalo authorize» again and choose «Allow».",
}
