"""/privacy erase takes the citizen's photos with it, on SQLite and PostgreSQL: the stored uploads are
deleted (an item's photo and one never sent with an item), the items stay but point to no photo, and
the photos' addresses answer 404 like any unknown key (Law 91/2025/QH15 on personal data protection)."""

from __future__ import annotations

from bot.texts import t
from storage.models import Attachment, Item
from tests.test_webchat_media import png, upload
from tests.webchat import DESCRIPTION, rows


async def test_erasing_personal_data_deletes_the_citizens_photos(runtime, citizen):
    await citizen.send(button="menu:submit")
    await citizen.send(button="kind:feedback")
    await citizen.send(button="category:infrastructure")
    await citizen.send(DESCRIPTION)
    for _ in range(2):
        status, _ = await upload(citizen, png())
        assert status == 200
    await citizen.send(button="photos:done")
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    await citizen.send(button="submit:send")
    await citizen.send(button="menu:submit")  # a photo sent for a submission the citizen then abandoned
    await citizen.send(button="kind:feedback")
    await citizen.send(button="category:environment")
    await citizen.send("Cây đổ chắn ngang ngõ 8 Hàng Bạc từ sáng nay.")
    status, _ = await upload(citizen, png(3, 3))
    assert status == 200
    await citizen.send(button="submit:cancel")

    [item] = await rows(runtime, Item)
    keys = [attachment.key for attachment in await rows(runtime, Attachment)]
    assert len(keys) == 3 and {p[4:] for p in item.photos} < set(keys)
    for key in keys:
        assert (await citizen.client.get(f"/media/{key}")).status == 200

    await citizen.send("/privacy")
    await citizen.send(button="privacy:erase")
    erased = await citizen.send(button="privacy:erase_yes")
    assert erased[0]["text"] == t("vi", "privacy.erased")

    assert await rows(runtime, Attachment) == []
    [after] = await rows(runtime, Item)
    assert (after.citizen_id, after.photos, after.description) == (None, [], DESCRIPTION)  # the record stays
    for key in keys:
        assert (await citizen.client.get(f"/media/{key}")).status == 404
