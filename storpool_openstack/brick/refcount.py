# Copyright (c) 2026 StorPool.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""The reference-counted attach and detach transactions of one host.

Every attach of a volume on this host by one user is recorded in the
attach-state file under a request id, and StorPool detaches the volume only
when the last recorded user on the host is gone. The request id comes
from the connection properties (:mod:`.properties`).

A connect that finds the volume attached here by no recorded user (by
os-brick's in-tree connector before an upgrade, or by a tool that keeps no
record) first records that unknown user as a placeholder ``rebuilt-<name>``
with the rights StorPool shows, so that the new user neither downgrades
nor, at its disconnect (forced or not), detaches the volume from under it.

Each change is one transaction on the attach-state file, under its lock:
the record of a user and the StorPool attach or detach it calls for
succeed or fail together.
"""

import time

from oslo_log import log as logging

from storpool_openstack import attach_state
from storpool_openstack.brick import device
from storpool_openstack.brick import exception
from storpool_openstack.brick import properties
from storpool_openstack.common import api as sp_api
from storpool_openstack.common import exception as sp_exception
from storpool_openstack.common import names

# Logged as the connector, as before these parts had their own modules.
LOG = logging.getLogger('storpool_openstack.brick.connector')

# Detach retries on "is open at": 20 ms, doubling, at most 0.5 s apart.
BUSY_FIRST_DELAY = 0.02
BUSY_MAX_DELAY = 0.5


def _rights_of(attachment: dict) -> int:
    return (attach_state.RIGHTS_RW if attachment.get('rights') == 'rw'
            else attach_state.RIGHTS_RO)


class Attachments:
    """Who uses which volume here: record, attach, release, detach."""

    def __init__(self, api: sp_api.StorPoolAPI, our_id: int,
                 state: attach_state.AttachState, state_path: str,
                 paths: names.DevicePaths, device_timeout: float) -> None:
        self._api = api
        self._our_id = our_id
        self._state = state
        self._state_path = state_path
        self._paths = paths
        self._device_timeout = device_timeout

    def record_and_attach(self, req_id: str, kind: str,
                          target: properties.Target, path: str) -> None:
        """Record the user; attach when the wanted rights grew.

        One attach-state transaction: if the API refuses the attach, the
        entry is put back as it was before, so no user is left recorded
        for a volume that is not attached. If the record cannot be
        written after this call attached a volume nobody here used, the
        volume is detached again, so that it is not left attached with no
        record of a user.
        """
        attached_from_none = False
        try:
            with self._state.locked() as entries:
                if (not attach_state.users_of(entries, target.name)
                        and device.exists(path)):
                    self._record_unknown_user(entries, target)
                before = attach_state.wanted_rights(entries, target.name)
                previous = entries.get(req_id)
                rights = target.rights
                if previous and previous.get('volume') == target.name:
                    # The same user again (e.g. several instances of a
                    # multiattach volume as one user): never record less
                    # than it had.
                    rights = max(rights, previous.get('rights', 0))
                entries[req_id] = attach_state.make_entry(
                    req_id, target.name, kind=kind, rights=rights,
                    volsnap=target.volsnap)
                wanted = attach_state.wanted_rights(entries, target.name)
                if wanted <= before and device.exists(path):
                    LOG.debug('%s is already attached here with %s rights '
                              'for another user; no API call', target.name,
                              properties.mode_of(before))
                    return
                try:
                    self._api.volumes_reassign_wait(
                        [{target.kind: target.name,
                          properties.mode_of(wanted): [self._our_id]}],
                        attach_timeout=max(1, int(self._device_timeout)))
                except sp_exception.StorPoolError:
                    if previous is None:
                        del entries[req_id]
                    else:
                        entries[req_id] = previous
                    raise
                attached_from_none = not before
        except attach_state.AttachStateError as exc:
            if attached_from_none:
                self._undo_attach(req_id, target)
            raise exception.AttachStateFailure(
                path=self._state_path, reason=str(exc)) from exc
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'attaching {target.kind} {target.name} '
                       f'({target.mode}) to client '
                       f'{self._our_id}', reason=str(exc)) from exc

    def _undo_attach(self, req_id: str, target: properties.Target) -> None:
        """Detach what a connect attached but could not record."""
        try:
            self._detach_attempt(req_id, target, force_now=False,
                                 raise_busy=True, drop_on_failure=True)
        except (attach_state.AttachStateError,
                sp_exception.StorPoolError) as exc:
            LOG.error('%s stays attached to client %s: its attach could '
                      'not be recorded, and detaching it failed: %s',
                      target.name, self._our_id, exc)

    def _record_unknown_user(self, entries: dict,
                             target: properties.Target) -> None:
        """A placeholder for whoever attached `target` here unrecorded."""
        rights = max((_rights_of(att) for att in self._api.attachments_list()
                      if att.get('volume') == target.name
                      and att.get('client') == self._our_id), default=0)
        if not rights:
            return  # a stale device node: StorPool has it detached
        key = properties.placeholder_id(target.name)
        LOG.warning('%s is attached here (%s) by no recorded user; '
                    'recording %s for that user, so that it stays '
                    'attached until that record is removed', target.name,
                    properties.mode_of(rights), key)
        entries[key] = attach_state.make_entry(
            key, target.name, kind=attach_state.REBUILT_KIND,
            rights=attach_state.RIGHTS_RO if target.volsnap else rights,
            volsnap=target.volsnap)

    def release(self, req_id: str, target: properties.Target, *,
                force: bool, retries: int, drop_on_failure: bool = False,
                legacy: dict[str, str] | None = None) -> bool:
        """Remove the user; detach if it was the last. True if detached.

        `legacy`: other request ids of the same user (see PROP_LEGACY).

        Each attempt is one attach-state transaction, so a connect of the
        same volume by another user between two busy retries is seen by
        the next attempt (which then keeps the volume attached). The
        user's record is put back if the detach finally fails, so the
        state still says who holds the attached volume.
        """
        delay = BUSY_FIRST_DELAY
        attempt = 0
        try:
            while True:
                final = attempt >= retries
                done = self._detach_attempt(
                    req_id, target, force_now=False,
                    raise_busy=final and not force,
                    drop_on_failure=drop_on_failure, legacy=legacy)
                if done is not None:
                    return done
                if final:
                    LOG.warning('Forcing the detach of %s from client %s: '
                                'still open after %d attempts and a forced '
                                'disconnect was asked for', target.name,
                                self._our_id, attempt + 1)
                    return bool(self._detach_attempt(
                        req_id, target, force_now=True, raise_busy=True,
                        drop_on_failure=drop_on_failure, legacy=legacy))
                LOG.debug('%s is still open here; detach attempt %d of %d '
                          'in %.2f s', target.name, attempt + 2, retries + 1,
                          delay)
                time.sleep(delay)
                delay = min(delay * 2, BUSY_MAX_DELAY)
                attempt += 1
        except sp_exception.Busy as exc:
            raise exception.VolumeBusy(
                name=target.name, client=self._our_id, tries=attempt + 1,
                reason=exc.desc, path=self._paths.by_name(target.name)
            ) from exc
        except attach_state.AttachStateError as exc:
            raise exception.AttachStateFailure(
                path=self._state_path, reason=str(exc)) from exc
        except sp_exception.StorPoolError as exc:
            raise exception.StorPoolAPIFailure(
                action=f'detaching {target.kind} {target.name} from client '
                       f'{self._our_id}', reason=str(exc)) from exc

    def _detach_attempt(self, req_id: str, target: properties.Target, *,
                        force_now: bool, raise_busy: bool,
                        drop_on_failure: bool,
                        legacy: dict[str, str] | None = None
                        ) -> bool | None:
        """One transaction: True detached, False kept, None busy (retry).

        With `raise_busy` the Busy error is raised instead of None.
        """
        failure: sp_exception.StorPoolError | None = None
        with self._state.locked() as entries:
            mine = {}
            if req_id in entries:
                mine[req_id] = entries.pop(req_id)
            for key, kind in (legacy or {}).items():
                found = entries.get(key)
                if (isinstance(found, dict)
                        and found.get('volume') == target.name
                        and found.get('type') == kind):
                    mine[key] = entries.pop(key)
                    LOG.info('Removing the attach-state record %s of %s '
                             'along with %s: the same user, recorded '
                             'before an upgrade', key, target.name, req_id)
            entry = mine.get(req_id)
            if entry is None:
                LOG.debug('No attach-state record %s; detaching %s only if '
                          'no other user needs it', req_id, target.name)
            others = attach_state.users_of(entries, target.name)
            if others:
                LOG.info('Keeping %s attached: still used here by %s',
                         target.name, ', '.join(sorted(
                             str(e.get('id')) for e in others)))
                return False
            item = {target.kind: target.name, 'detach': [self._our_id],
                    'force': force_now}
            try:
                self._api.volumes_reassign_wait([item])
            except sp_exception.NotFound:
                LOG.info('%s is gone already; nothing to detach',
                         target.name)
                return True
            except sp_exception.Busy as exc:
                if not raise_busy:
                    entries.update(mine)
                    return None
                failure = exc
            except sp_exception.StorPoolError as exc:
                failure = exc
            if failure is not None:
                # Leave the block normally, so that what is decided here
                # is written: the user is kept, unless the caller said
                # to drop it whatever happens (ignore_errors).
                if not drop_on_failure:
                    entries.update(mine)
        if failure is not None:
            raise failure
        LOG.info('Detached StorPool %s %s from client %s%s', target.kind,
                 target.name, self._our_id, ' (forced)' if force_now else '')
        return True
