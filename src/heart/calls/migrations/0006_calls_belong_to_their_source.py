"""Calls belong to their source (issue 11): the CAD incident id is unique per source.

Existing calls get the source key of whoever delivered them, read from the actor of
their first "received" timeline line ("api:<client name>" -> the client, a person ->
that person); calls with no such line (seeded, demo, backup requests) stay "system".
"""

from django.db import migrations, models

BATCH = 2000


def backfill_source_keys(apps, schema_editor):
    Call = apps.get_model("calls", "Call")
    TimelineEvent = apps.get_model("calls", "TimelineEvent")
    ApiClient = apps.get_model("accounts", "ApiClient")
    clients = {f"api:{name}": pk for pk, name in ApiClient.objects.values_list("pk", "name")}
    keys: dict[int, str] = {}
    lines = (
        TimelineEvent.objects.filter(kind="received")
        .order_by("call_id", "at", "id")
        .values_list("call_id", "actor_id", "actor_label")
    )
    for call_id, actor_id, label in lines.iterator(chunk_size=BATCH):
        if call_id in keys:
            continue
        if actor_id is not None:
            keys[call_id] = f"user:{actor_id}"
        elif label in clients:
            keys[call_id] = f"client:{clients[label]}"
        else:
            keys[call_id] = (label or "system")[:60]
    by_key: dict[str, list[int]] = {}
    for call_id, key in keys.items():
        if key != "system":
            by_key.setdefault(key, []).append(call_id)
    for key, ids in by_key.items():
        for i in range(0, len(ids), BATCH):
            Call.objects.filter(pk__in=ids[i : i + BATCH]).update(source_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0005_timeline_waiting_kind"),
        ("accounts", "0003_update_any_call"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="source_key",
            field=models.CharField(default="system", max_length=60),
        ),
        migrations.RunPython(backfill_source_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="call",
            name="cad_incident_id",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddIndex(
            model_name="call",
            index=models.Index(fields=["state", "received_at", "id"], name="calls_open_page"),
        ),
        migrations.AddConstraint(
            model_name="call",
            constraint=models.UniqueConstraint(
                fields=("source_key", "cad_incident_id"), name="calls_one_incident_per_source"
            ),
        ),
    ]
