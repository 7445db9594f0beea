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

"""StorPool's iSCSI configuration (GET/POST ``iSCSIConfig``), with tgtd.

The shapes are those of ``storpool.sptypes`` (iSCSIConfigData and the
iSCSIConfigCommand family). Every POST is checked as a whole and then
applied, so a refused list of commands changes nothing.

Where ``tgtd`` (Debian's ``tgt``) can run (root, the binaries installed),
the configuration is made real: the first portal starts a tgtd of this
emulator's own (its own control port, listening only on the portals'
loopback addresses), each target becomes a tgt target whose LUN is the
volume's data file, and each export lets that initiator's IQN log in.
Two things differ from StorPool and are said in the answers:

* tgt keeps LUN 0 of every target for its controller, so the volume is
  LUN 1, and the target object says so with an extra ``lun`` key
  (StorPool's targets have no such key: its volume is always LUN 0);
* tgt lets an initiator in when its address OR its name is allowed, so
  only the IQN is bound (every test initiator comes from 127.0.0.1).

A portal created with port 0 gets a free port (an emulator convenience:
StorPool's default is 3260, which other daemons on a shared machine use).

This module is the configuration and what tgtd should have of it; the
tgtd process itself (start, tgtadm, stop by pid) is ``tgtd``.
"""

import copy
import ipaddress
import re
import socket
import typing

from oslo_log import log as logging

from storpool_openstack.emulator import errors
from storpool_openstack.emulator import tgtd

LOG = logging.getLogger(__name__)

NAME_RE = re.compile(r'^[a-z0-9\-.:]+$')          # sptypes.iSCSIName
PG_NAME_RE = re.compile(r'^[A-Za-z0-9_\-.:]+$')   # sptypes.iSCSIPGName
MAX_ID = 0x0fff
ISCSI_PORT = 3260
TGT_LUN = 1
MODES = ('auto', 'tgtd', 'none')

# command -> (required keys, optional keys)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    'setBaseName': (('name',), ()),
    'createPortalGroup': (('name',), ()),
    'deletePortalGroup': (('name',), ()),
    'portalGroupAddNetwork': (('portalGroup', 'net'), ()),
    'createPortal': (('portalGroup', 'controller', 'ip'), ('port',)),
    'deletePortal': (('ip',), ('port',)),
    'createTarget': (('volumeName',), ()),
    'deleteTarget': (('volumeName',), ()),
    'createInitiator': (('name', 'username', 'secret'), ()),
    'deleteInitiator': (('name',), ()),
    'initiatorAddNetwork': (('initiator', 'net'), ()),
    'export': (('initiator', 'portalGroup', 'volumeName'), ()),
    'exportDelete': (('initiator', 'portalGroup', 'volumeName'), ()),
}


def resolve_mode(mode: str) -> tuple[str, str]:
    """'auto' -> 'tgtd' or 'none'; (mode, why not tgtd)."""
    if mode not in MODES:
        raise ValueError(f'iSCSI target mode must be one of {MODES}')
    if mode == 'none':
        return 'none', 'disabled (--iscsi-target none)'
    ok, why = tgtd.available()
    if ok:
        return 'tgtd', ''
    if mode == 'tgtd':
        raise ValueError(f'--iscsi-target tgtd: {why}')
    return 'none', why


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def _net(value: typing.Any) -> tuple[str, int]:
    """'a.b.c.d/n' -> (address as given, prefix)."""
    try:
        iface = ipaddress.ip_interface(str(value))
    except ValueError:
        raise errors.invalid(f'{value!r} is not a network in CIDR '
                             'notation (a.b.c.d/n)')
    if '/' not in str(value):
        raise errors.invalid(f'{value!r}: the network needs a /prefix')
    return str(iface.ip), iface.network.prefixlen


class _State:
    """The configuration tree, by id as StorPool keeps it."""

    def __init__(self) -> None:
        self.base_name = ''
        self.portal_groups: dict[int, dict] = {}
        self.initiators: dict[int, dict] = {}
        self.targets: dict[int, dict] = {}
        self.next_id = 1

    def new_id(self) -> int:
        nid = self.next_id
        self.next_id += 1
        return nid

    def pg(self, name: typing.Any) -> dict:
        for group in self.portal_groups.values():
            if group['name'] == name:
                return group
        raise errors.does_not_exist('iSCSI portal group', str(name))

    def initiator(self, name: typing.Any) -> dict:
        for init in self.initiators.values():
            if init['name'] == name:
                return init
        raise errors.does_not_exist('iSCSI initiator', str(name))

    def target_of(self, volume: str) -> dict | None:
        for tgt in self.targets.values():
            if tgt['volume'] == volume:
                return tgt
        return None

    def exports_of(self, target: str) -> list[tuple[str, str]]:
        """(initiator, portal group) of each export of a target."""
        return [(init['name'], exp['portalGroup'])
                for init in self.initiators.values()
                for exp in init['exports'] if exp['target'] == target]


class ISCSIConfig:
    """The cluster's iSCSI configuration, and tgtd behind it."""

    def __init__(self, cluster: typing.Any, mode: str = 'auto',
                 log_dir: str | None = None) -> None:
        self.cluster = cluster
        self.mode, self.why_not = resolve_mode(mode)
        self.log_dir = log_dir or cluster.state_dir
        self.daemon: tgtd.TgtDaemon | None = None
        self.state = _State()
        # What tgtd has now: portals, {target id: (tid, path, IQNs)}.
        self._real_portals: set[tuple[str, int]] = set()
        self._real_targets: dict[int, dict] = {}
        self._next_tid = 1

    # -- answers -----------------------------------------------------------
    def describe(self) -> dict:
        """iSCSIConfig: ``{"iscsi": iSCSIConfigData}``."""
        st = self.state
        targets = {}
        for tid, tgt in st.targets.items():
            item = {'name': tgt['name'], 'volume': tgt['volume'],
                    'currentControllerId': tgt['currentControllerId']}
            if tid in self._real_targets:
                item['lun'] = TGT_LUN
            targets[str(tid)] = item
        return {'iscsi': {
            'baseName': st.base_name,
            'portalGroups': {str(k): copy.deepcopy(v)
                             for k, v in st.portal_groups.items()},
            'initiators': {str(k): copy.deepcopy(v)
                           for k, v in st.initiators.items()},
            'targets': targets}}

    def info(self) -> dict:
        """For the control API and the tests."""
        return {'mode': self.mode, 'whyNotTgtd': self.why_not,
                'tgtdPid': self.daemon.pid if self.daemon else None,
                'tgtdControlPort': self.daemon.control_port
                if self.daemon else None,
                'realTargets': {str(k): dict(v, iqns=sorted(v['iqns']))
                                for k, v in self._real_targets.items()},
                'portals': sorted(f'{ip}:{port}'
                                  for ip, port in self._real_portals)}

    # -- hooks for the volume model ----------------------------------------
    def daemon_pids(self) -> set[int]:
        """tgtd holds exported data files open; that is no native user."""
        pid = self.daemon.pid if self.daemon is not None else None
        return {pid} if pid else set()

    def exported(self, volume: str) -> bool:
        """Does a target serve this volume's data?"""
        return self.state.target_of(volume) is not None

    def volume_renamed(self, old: str, new: str) -> None:
        """A target follows its volume (the target's name stays)."""
        tgt = self.state.target_of(old)
        if tgt is not None:
            tgt['volume'] = new

    def check_no_target(self, volume: str, what: str) -> None:
        tgt = self.state.target_of(volume)
        if tgt is not None:
            raise errors.invalid(
                f'Cannot {what} volume {volume}: it has the iSCSI target '
                f"{tgt['name']}; delete the target first")

    # -- changes -----------------------------------------------------------
    def change(self, body: typing.Any) -> None:
        """POST iSCSIConfig: all the commands, or none of them."""
        if not isinstance(body, dict) or set(body) != {'commands'} or \
                not isinstance(body['commands'], list):
            raise errors.invalid('iSCSIConfig: expected {"commands": '
                                 '[iSCSIConfigCommand, ...]}')
        new = copy.deepcopy(self.state)
        for num, cmd in enumerate(body['commands']):
            if not isinstance(cmd, dict) or len(cmd) != 1:
                raise errors.invalid(
                    f'iSCSIConfig command #{num}: expected an object with '
                    'exactly one command')
            (name, args), = cmd.items()
            if name not in COMMANDS:
                raise errors.invalid(f'iSCSIConfig command #{num}: unknown '
                                     f'command {name!r}')
            need, optional = COMMANDS[name]
            if not isinstance(args, dict):
                raise errors.invalid(f'{name}: expected an object')
            missing = [k for k in need if k not in args]
            extra = [k for k in args if k not in need + optional]
            if missing or extra:
                raise errors.invalid(f"{name}: missing {missing or '-'}, "
                                     f"unknown {extra or '-'}")
            getattr(self, '_cmd_' + name)(new, **args)
        self._realize(new)
        self.state = new

    @staticmethod
    def _check_name(value: typing.Any, what: str,
                    regex: typing.Pattern = NAME_RE) -> str:
        if not isinstance(value, str) or not regex.match(value):
            raise errors.invalid(f'Invalid {what} {value!r}')
        return value

    def _cmd_setBaseName(self, st: _State, name: str) -> None:
        st.base_name = self._check_name(name, 'iSCSI base name')

    def _cmd_createPortalGroup(self, st: _State, name: str) -> None:
        self._check_name(name, 'portal group name', PG_NAME_RE)
        if any(g['name'] == name for g in st.portal_groups.values()):
            raise errors.exists('iSCSI portal group', name)
        st.portal_groups[st.new_id()] = {'name': name, 'networks': [],
                                         'portals': []}

    def _cmd_deletePortalGroup(self, st: _State, name: str) -> None:
        group = st.pg(name)
        users = [i['name'] for i in st.initiators.values()
                 for e in i['exports'] if e['portalGroup'] == name]
        if users:
            raise errors.invalid(f'iSCSI portal group {name} still exports '
                                 f"volumes to {', '.join(users)}")
        for key, value in list(st.portal_groups.items()):
            if value is group:
                del st.portal_groups[key]

    def _cmd_portalGroupAddNetwork(self, st: _State, portalGroup: str,
                                   net: str) -> None:
        group = st.pg(portalGroup)
        address, prefix = _net(net)
        item = {'address': address, 'prefix': prefix}
        if item in group['networks']:
            raise errors.exists('network', net)
        group['networks'].append(item)

    def _portal_ip(self, ip: typing.Any) -> str:
        try:
            addr = ipaddress.ip_address(str(ip))
        except ValueError:
            raise errors.invalid(f'Invalid portal IP address {ip!r}')
        if self.mode == 'tgtd' and not addr.is_loopback:
            # The emulator's tgtd listens on loopback only.
            raise errors.invalid('The emulator serves iSCSI portals only on '
                                 f'loopback addresses, not {ip}')
        return str(addr)

    def _cmd_createPortal(self, st: _State, portalGroup: str,
                          controller: typing.Any, ip: str,
                          port: typing.Any = None) -> None:
        group = st.pg(portalGroup)
        if not isinstance(controller, int) or \
                not 0 <= controller <= MAX_ID:
            raise errors.invalid(f'Invalid iSCSI controller {controller!r}')
        ip = self._portal_ip(ip)
        port = ISCSI_PORT if port is None else port
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise errors.invalid(f'Invalid portal port {port!r}')
        if port == 0:
            port = _free_port(ip)
        for other in st.portal_groups.values():
            for portal in other['portals']:
                if portal['ip'] == ip and portal['port'] == str(port):
                    raise errors.exists('iSCSI portal', f'{ip}:{port}')
        group['portals'].append({'controller': controller, 'ip': ip,
                                 'port': str(port)})

    def _cmd_deletePortal(self, st: _State, ip: str,
                          port: typing.Any = None) -> None:
        port = str(ISCSI_PORT if port is None else port)
        for group in st.portal_groups.values():
            for portal in group['portals']:
                if portal['ip'] == ip and portal['port'] == port:
                    group['portals'].remove(portal)
                    return
        raise errors.does_not_exist('iSCSI portal', f'{ip}:{port}')

    def _cmd_createTarget(self, st: _State, volumeName: str) -> None:
        rec = self.cluster.get_volume(volumeName)
        if not st.base_name:
            raise errors.invalid('The iSCSI base name is not set '
                                 '(setBaseName)')
        if st.target_of(rec.name) is not None:
            raise errors.exists('iSCSI target for volume', rec.name)
        name = f"{st.base_name}:{rec.name.lower().replace('_', '-')}"
        st.targets[st.new_id()] = {'name': name, 'volume': rec.name,
                                   'currentControllerId': 1}

    def _cmd_deleteTarget(self, st: _State, volumeName: str) -> None:
        tgt = st.target_of(volumeName)
        if tgt is None:
            raise errors.does_not_exist('iSCSI target for volume',
                                        str(volumeName))
        users = st.exports_of(tgt['name'])
        if users:
            raise errors.invalid(
                f"The iSCSI target {tgt['name']} is still exported to "
                + ', '.join(i for i, _pg in users))
        for key, value in list(st.targets.items()):
            if value is tgt:
                del st.targets[key]

    def _cmd_createInitiator(self, st: _State, name: str, username: str,
                             secret: str) -> None:
        self._check_name(name, 'iSCSI initiator name')
        if not isinstance(username, str) or not isinstance(secret, str):
            raise errors.invalid('createInitiator: username and secret '
                                 'must be strings')
        if any(i['name'] == name for i in st.initiators.values()):
            raise errors.exists('iSCSI initiator', name)
        st.initiators[st.new_id()] = {'name': name, 'username': username,
                                      'secret': secret, 'nets': [],
                                      'exports': []}

    def _cmd_deleteInitiator(self, st: _State, name: str) -> None:
        init = st.initiator(name)
        if init['exports']:
            raise errors.invalid(f'iSCSI initiator {name} still has exports')
        for key, value in list(st.initiators.items()):
            if value is init:
                del st.initiators[key]

    def _cmd_initiatorAddNetwork(self, st: _State, initiator: str,
                                 net: str) -> None:
        init = st.initiator(initiator)
        address, prefix = _net(net)
        cidr = f'{address}/{prefix}'
        if cidr in init['nets']:
            raise errors.exists('network', cidr)
        init['nets'].append(cidr)

    def _export_parts(self, st: _State, initiator: str, portalGroup: str,
                      volumeName: str) -> tuple[dict, dict]:
        init = st.initiator(initiator)
        st.pg(portalGroup)
        tgt = st.target_of(volumeName)
        if tgt is None:
            raise errors.does_not_exist('iSCSI target for volume',
                                        str(volumeName))
        return init, {'portalGroup': portalGroup, 'target': tgt['name']}

    def _cmd_export(self, st: _State, **args: str) -> None:
        init, exp = self._export_parts(st, **args)
        if exp in init['exports']:
            raise errors.exists('iSCSI export',
                                f"{exp['target']} to {init['name']}")
        init['exports'].append(exp)

    def _cmd_exportDelete(self, st: _State, **args: str) -> None:
        init, exp = self._export_parts(st, **args)
        if exp not in init['exports']:
            raise errors.does_not_exist('iSCSI export',
                                        f"{exp['target']} to {init['name']}")
        init['exports'].remove(exp)

    # -- tgtd ----------------------------------------------------------------
    def _realize(self, new: _State) -> None:
        """Make tgtd match `new`; on a failure, back to the old state."""
        if self.mode != 'tgtd':
            return
        try:
            self._sync(new)
        except errors.EmulatorError:
            try:
                self._sync(self.state)
            except errors.EmulatorError:
                LOG.exception('could not restore tgtd after a failure')
            raise

    def _sync(self, st: _State) -> None:
        portals = {(p['ip'], int(p['port']))
                   for g in st.portal_groups.values() for p in g['portals']}
        if portals and self.daemon is None:
            first = sorted(portals)[0]
            self.daemon = tgtd.TgtDaemon(self.log_dir)
            self.daemon.start(first)
            self._real_portals = {first}
        if self.daemon is None:
            return
        adm = self.daemon.adm
        for ip, port in sorted(portals - self._real_portals):
            adm('--mode', 'portal', '--op', 'new', '--param',
                f'portal={ip}:{port}')
            self._real_portals.add((ip, port))
        for ip, port in sorted(self._real_portals - portals):
            adm('--mode', 'portal', '--op', 'delete', '--param',
                f'portal={ip}:{port}')
            self._real_portals.discard((ip, port))
        for tid in sorted(set(self._real_targets) - set(st.targets)):
            self._drop_target(tid)
        for tid, tgt in sorted(st.targets.items()):
            want = {i for i, _pg in st.exports_of(tgt['name'])}
            real = self._real_targets.get(tid)
            if real is None:
                real = self._add_target(tid, tgt)
            for iqn in sorted(want - real['iqns']):
                adm('--mode', 'target', '--op', 'bind', '--tid',
                    str(real['tid']), '--initiator-name', iqn)
                real['iqns'].add(iqn)
            for iqn in sorted(real['iqns'] - want):
                adm('--mode', 'target', '--op', 'unbind', '--tid',
                    str(real['tid']), '--initiator-name', iqn)
                real['iqns'].discard(iqn)

    def _add_target(self, tid: int, tgt: dict) -> dict:
        rec = self.cluster.get_volume(tgt['volume'])
        path = self.cluster.data.materialize(rec.data)
        self.cluster.devices.flush(rec.name)
        real_tid = self._next_tid
        self._next_tid += 1
        adm = self.daemon.adm
        adm('--mode', 'target', '--op', 'new', '--tid', str(real_tid),
            '--targetname', tgt['name'])
        real = {'tid': real_tid, 'path': path, 'iqns': set()}
        self._real_targets[tid] = real
        adm('--mode', 'logicalunit', '--op', 'new', '--tid', str(real_tid),
            '--lun', str(TGT_LUN), '--backing-store', path)
        return real

    def _drop_target(self, tid: int) -> None:
        real = self._real_targets.pop(tid)
        self.daemon.adm('--mode', 'target', '--op', 'delete', '--force',
                        '--tid', str(real['tid']))
        # tgt wrote with pwrite() to the data file: nothing to flush.

    def reset(self) -> None:
        """Back to an empty configuration (tgtd stops)."""
        self.close()
        self.state = _State()

    def close(self) -> None:
        """Stop tgtd; nothing of it is left behind."""
        daemon, self.daemon = self.daemon, None
        self._real_targets = {}
        self._real_portals = set()
        if daemon is not None:
            daemon.stop()
