"""Texts of the forgiving conversation (issue 18): channel-true instructions, adding information in
several messages, typed text at a menu, drafts, reusing contact details, previews before publishing.

Keys start with ``conv.``, except channel variants of older keys (``key@channel``, handlers/core.py).
"""

VI = {
    # Channel-true instructions: the web chat has its own 📍 button; Zalo's menu beside the input box.
    "submit.location@web": "Sự việc ở đâu? Bấm nút 📍 cạnh ô nhập để gửi vị trí hiện tại, hoặc gõ địa chỉ. "
                           "Bấm «Bỏ qua» nếu không cần.",
    "submit.location@zalo": "Sự việc ở đâu? Gửi vị trí từ Zalo (bấm dấu «…» cạnh ô nhập → Vị trí) hoặc gõ địa chỉ. "
                            "Bấm «Bỏ qua» nếu không cần.",
    "conv.channel.telegram": "Telegram",
    "conv.channel.web": "Trò chuyện trên trang web",
    "conv.channel.zalo": "Zalo (trang Zalo Official Account)",
    "conv.channel.zalobot": "Zalo (tài khoản Zalo Bot)",
    "conv.channel.other": "Kênh khác",
    # Typed text where buttons were expected.
    "conv.menu_typed": "Bạn vừa gõ: «{text}»\n\nBạn có muốn gửi nội dung này thành một phản ánh, kiến nghị "
                       "tới UBND không? Hoặc chọn một mục trong menu.",
    "conv.menu_typed_short": "Hãy chọn một mục bên dưới. Muốn gửi phản ánh, bấm «📝 Gửi phản ánh, khiếu nại, tố cáo» "
                             "hoặc gõ nội dung (ít nhất {minimum} ký tự).",
    "conv.use_typed": "📨 Gửi nội dung này thành phản ánh",
    "conv.typed_kept": "Đã dùng nội dung bạn vừa gõ làm phần mô tả. Bạn sửa được ở bước cuối trước khi gửi.",
    "conv.privacy_typed": "Ở đây chỉ xem hoặc xoá dữ liệu của bạn. Hãy chọn một nút bên dưới.",
    # Drafts: Menu with a half-written submission asks first; a draft can be resumed.
    "conv.leave_draft": "Bạn đang soạn dở ({kind}):\n«{excerpt}»\n\nBản nháp sẽ được giữ lại để bạn gửi sau. "
                        "Bạn muốn làm gì?",
    "conv.draft_continue": "✏️ Tiếp tục soạn",
    "conv.draft_keep": "💾 Giữ bản nháp, về menu",
    "conv.draft_discard": "🗑️ Bỏ bản nháp",
    "conv.draft_discarded": "Đã bỏ bản nháp.",
    "conv.draft_kept": "Đã giữ bản nháp. Bấm «✏️ Tiếp tục bản nháp» trong menu khi muốn gửi tiếp.",
    "conv.menu_draft": "✏️ Tiếp tục bản nháp ({kind})",
    "conv.draft_resumed": "Tiếp tục bản nháp của bạn.",
    "conv.draft_or_new": "Bạn còn một bản nháp chưa gửi ({kind}):\n«{excerpt}»\n\nTiếp tục bản nháp hay soạn mới "
                         "(bản nháp sẽ bị bỏ)?",
    "conv.draft_new": "🆕 Soạn mới",
    # Adding information: several messages and photos, until Done.
    "conv.add_info_prompt": "Hãy gửi thông tin hoặc ảnh mà cán bộ đề nghị bổ sung. Bạn có thể gửi nhiều tin "
                            "nhắn và nhiều ảnh; gửi xong thì bấm «✅ Xong».",
    "conv.add_info_received": "Đã chuyển tới cán bộ ({count} tin đã gửi). Gửi tiếp hoặc bấm «✅ Xong».",
    "conv.add_info_done": "✅ Xong",
    "conv.add_info_finished": "Cảm ơn bạn. Cán bộ đã nhận {count} tin bổ sung; hồ sơ tiếp tục được giải quyết.",
    "conv.not_a_code": "«{text}» không phải là mã hồ sơ (mã có dạng TD-XXXXX-XXXXX). Hãy chọn một nút bên dưới.",
    "conv.officer_info": "📎 Hồ sơ {code}: người gửi vừa bổ sung thông tin{photos}. Mở hồ sơ để xem.",
    "conv.officer_info_photos": " (kèm {count} ảnh)",
    "event.info_added": "Bạn gửi thêm thông tin",
    "officer.event_name.info_added": "Người dân gửi thêm thông tin",
    # Reusing the contact given last time, with consent.
    "conv.reuse_contact": "Lần trước bạn đã cung cấp:\n• Họ tên: {name}\n• Địa chỉ: {address}\n• Điện thoại: {phone}\n\n"
                          "Dùng lại thông tin này cho hồ sơ mới?",
    "conv.reuse_yes": "✅ Dùng thông tin này",
    "conv.reuse_no": "✏️ Nhập thông tin khác",
    # Publishing: a preview and a confirmation; an early end of a consultation needs a reason.
    "conv.publish.preview_announce": "👀 Xem trước — người dân sẽ nhận được:\n\n{body}\n\n"
                                     "Gửi tới: người đăng ký nhận tin của {commune} — {count} người.\n"
                                     "Tin đã gửi không thu hồi được; hãy kiểm tra kỹ trước khi gửi.",
    "conv.publish.preview_project": "👀 Xem trước — người theo dõi dự án sẽ nhận được:\n\n{body}\n\n"
                                    "Gửi tới: {count} người theo dõi dự án.",
    "conv.publish.send": "📣 Gửi ngay",
    "conv.publish.rewrite": "✏️ Viết lại",
    "conv.publish.cancel": "🗑️ Không gửi",
    "conv.publish.cancelled": "Đã huỷ, không gửi gì.",
    "conv.close.ask_reason": "«{title}» đã công bố nhận ý kiến đến {closes}. Kết thúc sớm hơn cần nêu lý do; "
                             "lý do được công bố cùng kết quả. Hãy gõ lý do:",
    "conv.close.preview": "👀 Kết thúc lấy ý kiến «{title}» ngay bây giờ ({now})?\n{early}"
                          "Kết quả sẽ được công bố và gửi tới {count} người đã góp ý.",
    "conv.close.early": "Hạn đã công bố: {closes}. Lý do kết thúc sớm: {reason}\n",
    "conv.close.confirm": "🗳️ Kết thúc và công bố kết quả",
    "conv.consult.closed_early": "⏱️ Kết thúc sớm lúc {closed} (hạn đã công bố: {closes}). Lý do: {reason}",
    "conv.consult.closed_at": "Đã kết thúc lúc: {closed}",
    "conv.public.closed_reason": "Kết thúc sớm hơn hạn đã công bố. Lý do: {reason}",
    # Receipts and officer screens: the law's deadlines first, the commune's targets labelled as its own.
    "conv.deadlines.own": "Mục tiêu riêng của xã, phường (không phải thời hạn luật định):",
    "conv.deadline.own_line": "• {phase}: trước ngày {date}",
    "conv.officer_phase.status_update": "Cập nhật tình hình cho người dân",
    "conv.officer_status.waiting_info": "chờ người dân bổ sung thông tin",
    "conv.officer_photos_above": "📷 {count} ảnh của hồ sơ đã gửi ở trên.",
    "conv.officer_photos_again": "📷 Xem lại ảnh",
}

EN = {
    "submit.location@web": "Where is it? Tap the 📍 button beside the message box to send your current location, "
                           "or type an address. Tap «Skip» if not needed.",
    "submit.location@zalo": "Where is it? Send a location from Zalo (tap «…» beside the message box → Location) "
                            "or type an address. Tap «Skip» if not needed.",
    "conv.channel.telegram": "Telegram",
    "conv.channel.web": "Chat on the website",
    "conv.channel.zalo": "Zalo (Official Account)",
    "conv.channel.zalobot": "Zalo (Zalo Bot account)",
    "conv.channel.other": "Another channel",
    "conv.menu_typed": "You typed: «{text}»\n\nWould you like to send this to the People's Committee as feedback? "
                       "Or choose an item of the menu.",
    "conv.menu_typed_short": "Please choose an item below. To send feedback, tap «📝 Send feedback, complaint, denunciation» or type "
                             "what happened (at least {minimum} characters).",
    "conv.use_typed": "📨 Send this as feedback",
    "conv.typed_kept": "What you typed is the description. You can change it at the last step before sending.",
    "conv.privacy_typed": "Here you can only read or erase your data. Please choose a button below.",
    "conv.leave_draft": "You have not finished writing ({kind}):\n«{excerpt}»\n\nThe draft is kept for you to send later. "
                        "What would you like to do?",
    "conv.draft_continue": "✏️ Continue writing",
    "conv.draft_keep": "💾 Keep the draft, go to the menu",
    "conv.draft_discard": "🗑️ Discard the draft",
    "conv.draft_discarded": "The draft is discarded.",
    "conv.draft_kept": "The draft is kept. Tap «✏️ Continue the draft» in the menu to carry on.",
    "conv.menu_draft": "✏️ Continue the draft ({kind})",
    "conv.draft_resumed": "Here is your draft again.",
    "conv.draft_or_new": "You have a draft not sent yet ({kind}):\n«{excerpt}»\n\nContinue it, or start a new one "
                         "(the draft is discarded)?",
    "conv.draft_new": "🆕 Start a new one",
    "conv.add_info_prompt": "Send the information or photos the officer asked for. You can send several messages "
                            "and photos; when you are done, tap «✅ Done».",
    "conv.add_info_received": "Passed to the officer ({count} sent). Send more or tap «✅ Done».",
    "conv.add_info_done": "✅ Done",
    "conv.add_info_finished": "Thank you. The officer has received {count} message(s); your item is being handled again.",
    "conv.not_a_code": "«{text}» is not a tracking code (codes look like TD-XXXXX-XXXXX). Please choose a button below.",
    "conv.officer_info": "📎 Item {code}: the petitioner has just added information{photos}. Open the item to read it.",
    "conv.officer_info_photos": " (with {count} photo(s))",
    "event.info_added": "You sent more information",
    "officer.event_name.info_added": "The citizen sent more information",
    "conv.reuse_contact": "Last time you gave:\n• Name: {name}\n• Address: {address}\n• Phone: {phone}\n\n"
                          "Use these details for the new item?",
    "conv.reuse_yes": "✅ Use these details",
    "conv.reuse_no": "✏️ Enter other details",
    "conv.publish.preview_announce": "👀 Preview — people will receive:\n\n{body}\n\n"
                                     "To: the subscribers of {commune} — {count} people.\n"
                                     "A message sent cannot be taken back; check it before sending.",
    "conv.publish.preview_project": "👀 Preview — the project's followers will receive:\n\n{body}\n\n"
                                    "To: {count} followers of the project.",
    "conv.publish.send": "📣 Send now",
    "conv.publish.rewrite": "✏️ Rewrite",
    "conv.publish.cancel": "🗑️ Do not send",
    "conv.publish.cancelled": "Cancelled; nothing was sent.",
    "conv.close.ask_reason": "«{title}» was published as open until {closes}. Closing it earlier needs a reason, "
                             "published with the result. Please type the reason:",
    "conv.close.preview": "👀 Close the consultation «{title}» now ({now})?\n{early}"
                          "The result will be published and sent to the {count} people who took part.",
    "conv.close.early": "Published end: {closes}. Reason for closing early: {reason}\n",
    "conv.close.confirm": "🗳️ Close and publish the result",
    "conv.consult.closed_early": "⏱️ Closed early at {closed} (published end: {closes}). Reason: {reason}",
    "conv.consult.closed_at": "Closed at: {closed}",
    "conv.public.closed_reason": "Closed before its published end. Reason: {reason}",
    "conv.deadlines.own": "The commune's own targets (not legal limits):",
    "conv.deadline.own_line": "• {phase}: before {date}",
    "conv.officer_phase.status_update": "Update the citizen",
    "conv.officer_status.waiting_info": "waiting for the citizen's information",
    "conv.officer_photos_above": "📷 The item's {count} photo(s) were sent above.",
    "conv.officer_photos_again": "📷 Show the photos again",
}
