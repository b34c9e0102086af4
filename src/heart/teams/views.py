"""The staffing page (supervisors: manage_teams): shifts in force and coming, who may
take which position, every responder's training, and the forms to book a shift, end
one, and record a training. Every write is a CSRF-protected POST to the same services
as the API; a refusal re-renders the page with the message beside the field."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from heart.accounts.actors import Actor
from heart.accounts.models import Discipline
from heart.errors import ServiceError
from heart.program_in_force import current_program
from heart.teams import selectors
from heart.teams.forms import ShiftEndForm, ShiftForm, TeamForm, TrainingRecordForm
from heart.teams.models import Shift, Team, TrainingRecord
from heart.teams.services import (
    change_shift_end,
    create_team,
    end_shift,
    record_training,
    remove_training_record,
    start_shift,
    update_team,
)


def _need_manage(request) -> None:
    if not request.user.has_perm("accounts.manage_teams"):
        raise PermissionDenied("your role may not manage shifts and training")


def _page(request, *, shift_form=None, training_form=None, status=200):
    program = current_program()
    now = timezone.now()
    today = now.astimezone(program.zone).date()
    people = selectors.responders_with_training(program=program, on=today)
    notes = {
        row["user"].pk: ", ".join(
            f"{st.training.label}: {st.state}" for st in row["statuses"] if st.state != "current"
        )
        for row in people
    }
    shift_form = shift_form or ShiftForm(notes=notes)
    for field in Discipline.values:
        shift_form.fields[field].notes = notes
    context = {
        "program": program,
        "today": today,
        "now": now,
        "shifts": selectors.shifts_around(now=now, days=7),
        "people": people,
        "requirements": list(program.trainings.values()),
        "shift_form": shift_form,
        "training_form": training_form or TrainingRecordForm(program=program),
        "records": TrainingRecord.objects.select_related("user").order_by("-recorded_at", "-id")[
            :25
        ],
    }
    return render(request, "teams/staff.html", context, status=status)


@login_required
@require_GET
def staff(request):
    _need_manage(request)
    return _page(request)


def _place(form, exc: ServiceError, fields_by_member: list[str]) -> None:
    """Put each problem of a service error beside its field (members[i] -> position)."""
    problems = getattr(exc, "problems", None)
    if not problems:
        text = exc.message
        if exc.path and text.startswith(exc.path + ": "):
            text = text[len(exc.path) + 2 :]
        problems = [(exc.path, text)]
    for path, problem in problems:
        field = None
        if path.startswith("members["):
            i = int(path[len("members[") : path.index("]")])
            field = fields_by_member[i] if i < len(fields_by_member) else None
        elif path in form.fields:
            field = path
        form.add_error(field, problem)


@login_required
@require_POST
def new_shift(request):
    _need_manage(request)
    form = ShiftForm(request.POST)
    if not form.is_valid():
        return _page(request, shift_form=form, status=422)
    members = form.members()
    try:
        shift = start_shift(
            team=form.cleaned_data["team"],
            members=members,
            starts_at=form.cleaned_data["starts_at"],
            ends_at=form.cleaned_data["ends_at"],
            actor=Actor.for_user(request.user),
            program=current_program(),
        )
    except ServiceError as exc:
        _place(form, exc, [d for _, d in members])
        return _page(request, shift_form=form, status=exc.status)
    messages.success(request, _("Shift booked for %(team)s.") % {"team": shift.team.name})
    return redirect("staff")


@login_required
@require_POST
def finish_shift(request, shift_id: int):
    _need_manage(request)
    shift = Shift.objects.filter(pk=shift_id).first()
    if shift is None:
        messages.error(request, _("shift: no shift %(id)s") % {"id": shift_id})
        return redirect("staff")
    try:
        ended = end_shift(shift=shift, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("staff")
    messages.success(request, _("Shift ended.") if ended else _("Shift cancelled."))
    return redirect("staff")


@login_required
@require_POST
def change_shift(request, shift_id: int):
    """A shift's new end: longer (training and overlaps checked) or shorter."""
    _need_manage(request)
    shift = Shift.objects.filter(pk=shift_id).first()
    if shift is None:
        messages.error(request, _("shift: no shift %(id)s") % {"id": shift_id})
        return redirect("staff")
    form = ShiftEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("ends_at: give the new end as a date and time"))
        return redirect("staff")
    try:
        change_shift_end(
            shift=shift, ends_at=form.cleaned_data["ends_at"], actor=Actor.for_user(request.user)
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("staff")
    messages.success(request, _("Shift end changed."))
    return redirect("staff")


@login_required
@require_POST
def new_training(request):
    _need_manage(request)
    program = current_program()
    form = TrainingRecordForm(request.POST, program=program)
    if not form.is_valid():
        return _page(request, training_form=form, status=422)
    data = form.cleaned_data
    try:
        record_training(
            user=data["person"],
            training=data["training"],
            completed_on=data["completed_on"],
            expires_on=data["expires_on"],
            note=data["note"],
            actor=Actor.for_user(request.user),
            program=program,
        )
    except ServiceError as exc:
        _place(form, exc, [])
        return _page(request, training_form=form, status=exc.status)
    messages.success(
        request,
        _("Training recorded for %(who)s.") % {"who": data["person"].get_username()},
    )
    return redirect("staff")


@login_required
@require_POST
def remove_training(request, record_id: int):
    _need_manage(request)
    record = TrainingRecord.objects.filter(pk=record_id).first()
    if record is not None:
        remove_training_record(record=record, actor=Actor.for_user(request.user))
        messages.success(request, _("Training record removed."))
    return redirect("staff")


# --- teams (/staff/teams): list, create, edit; all through teams.services (audited) ---


def _teams_page(request, *, form=None, status=200):
    program = current_program()
    units = {k: u.label for k, u in program.units.items()}
    teams = list(Team.objects.order_by("-active", "name"))
    for t in teams:
        t.unit_label = units.get(t.unit_key, t.unit_key)
    return render(
        request,
        "teams/teams.html",
        {"teams": teams, "form": form or TeamForm(program=program), "program": program},
        status=status,
    )


@login_required
@require_GET
def teams(request):
    _need_manage(request)
    return _teams_page(request)


@login_required
@require_POST
def new_team(request):
    _need_manage(request)
    form = TeamForm(request.POST, program=current_program())
    if not form.is_valid():
        return _teams_page(request, form=form, status=422)
    try:
        team = create_team(
            name=form.cleaned_data["name"],
            unit_key=form.cleaned_data["unit_key"],
            actor=Actor.for_user(request.user),
        )
    except ServiceError as exc:
        _place(form, exc, [])
        return _teams_page(request, form=form, status=exc.status)
    messages.success(request, _("Team %(team)s created.") % {"team": team.name})
    return redirect("staff-teams")


@login_required
def edit_team(request, team_id: int):
    _need_manage(request)
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        messages.error(request, _("team: no team %(id)s") % {"id": team_id})
        return redirect("staff-teams")
    program = current_program()
    if request.method == "POST":
        form = TeamForm(request.POST, program=program)
        if form.is_valid():
            try:
                update_team(
                    team=team,
                    name=form.cleaned_data["name"],
                    unit_key=form.cleaned_data["unit_key"],
                    active=form.cleaned_data["active"],
                    actor=Actor.for_user(request.user),
                )
            except ServiceError as exc:
                _place(form, exc, [])
            else:
                messages.success(
                    request, _("Team %(team)s saved.") % {"team": form.cleaned_data["name"]}
                )
                return redirect("staff-teams")
        status = 422
    else:
        form = TeamForm(
            initial={"name": team.name, "unit_key": team.unit_key, "active": team.active},
            program=program,
        )
        status = 200
    return render(request, "teams/team_edit.html", {"team": team, "form": form}, status=status)
