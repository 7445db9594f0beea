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
"""Set-up, connections, stats, several clusters, and the token's secrecy."""

import logging
import os
import platform

from cinder import exception
import ddt
import fixtures
from oslo_config import cfg
from oslo_utils import timeutils

from storpool_openstack.cinder import driver as sp_driver
from tests.unit.cinder import base

GiB = base.GiB
CONF = cfg.CONF


@ddt.ddt
class ConnectionTestCase(base.DriverTestCase):

    def setUp(self):
        super().setUp()
        # A config with the API but no SP_OURID at the top: the client id
        # must come from the host's own section.
        self.conf_path = os.path.join(self.useFixture(
            fixtures.TempDir()).path, 'storpool.conf')
        top = {k: v for k, v in self.emu.config.items() if k != 'SP_OURID'}
        with open(self.conf_path, 'w') as conf:
            conf.writelines(f'{k}={v}\n' for k, v in top.items())
            conf.write('[compute-1]\nSP_OURID=12\n')
            conf.write(f'[{platform.node()}]\nSP_OURID=5\n')
        self.driver = self.make_driver(storpool_config_file=self.conf_path)
        self.vol = self.volume()
        self.clear_calls()

    @ddt.data(({'host': 'x', 'storpool_client_id': 7}, 7),
              ({'host': 'x', 'storpool_client_id': '9'}, 9),
              ({'host': 'compute-1'}, 12))
    @ddt.unpack
    def test_initialize_connection(self, connector, client_id):
        conn = self.driver.initialize_connection(self.vol, connector)
        self.assertEqual({'driver_volume_type': 'storpool',
                          'data': {'client_id': client_id,
                                   'volume': self.vol.id,
                                   'access_mode': 'rw'}}, conn)
        self.driver.validate_connector(connector)
        self.assertEqual([], self.queries())

    def test_cinder_host_is_this_node(self):
        conn = self.driver.initialize_connection(self.vol,
                                                 {'host': CONF.host})
        self.assertEqual(5, conn['data']['client_id'])

    def test_this_machine_without_a_section(self):
        # cinder-backup on the cinder-volume machine: os-brick sends
        # platform.node() as the host; with no section of its own the
        # top-level SP_OURID is this machine's. Cinder's `host` is another
        # name, as in a deployment that sets it.
        self.override_config('host', 'cinder-volume-1')
        path = os.path.join(os.path.dirname(self.conf_path), 'top.conf')
        with open(path, 'w') as conf:
            conf.writelines(f'{k}={v}\n' for k, v in self.emu.config.items())
            conf.write('[compute-1]\nSP_OURID=12\n')
        drv = self.make_driver(storpool_config_file=path)
        conn = drv.initialize_connection(self.vol,
                                         {'host': platform.node()})
        self.assertEqual(int(self.emu.config['SP_OURID']),
                         conn['data']['client_id'])
        self.assertRaises(exception.InvalidConnectorException,
                          drv.validate_connector, {'host': 'compute-2'})

    @ddt.data({'mode': 'ro'}, {'readonly': True})
    def test_read_only(self, how):
        connector = {'host': 'compute-1'}
        if 'mode' in how:
            connector['mode'] = 'ro'
        else:
            self.vol.admin_metadata = {'readonly': 'True'}
        conn = self.driver.initialize_connection(self.vol, connector)
        self.assertEqual('ro', conn['data']['access_mode'])

    def test_unknown_host_is_a_clear_error(self):
        connector = {'host': 'compute-2'}
        for call in (lambda: self.driver.validate_connector(connector),
                     lambda: self.driver.initialize_connection(self.vol,
                                                               connector)):
            exc = self.assertRaises(exception.InvalidConnectorException,
                                    call)
            for word in ('compute-2', 'SP_OURID', self.conf_path):
                self.assertIn(word, str(exc))

    @ddt.data('0', 'abc', '5000')
    def test_bad_client_id_from_connector(self, raw):
        exc = self.assertRaises(
            exception.InvalidConnectorException,
            self.driver.validate_connector,
            {'host': 'compute-1', 'storpool_client_id': raw})
        self.assertIn(raw, str(exc))

    def test_no_connector_host(self):
        self.assertRaises(exception.InvalidConnectorException,
                          self.driver.validate_connector, {})


@ddt.ddt
class StatsTestCase(base.DriverTestCase):

    @ddt.data(True, False)
    def test_stats(self, configured):
        # Off over the native protocol whatever the (deprecated) option.
        multiattach = False
        drv = self.make_driver(reserved_percentage=15,
                               max_over_subscription_ratio='3.0',
                               storpool_multiattach=configured)
        vol = self.volume(size=3, type_id=self.vtype(
            'ssd', {'storpool_template': 'ssd'}))
        drv.create_volume(vol)
        self.clear_calls()
        stats = drv.get_volume_stats(refresh=True)
        self.assertEqual(['VolumeTemplatesStatus', 'DisksList'],
                         self.queries())
        self.assertEqual(
            {'volume_backend_name': 'storpool', 'vendor_name': 'StorPool',
             'storage_protocol': 'storpool', 'multiattach': multiattach,
             'clone_across_pools': True, 'QoS_support': True,
             'consistent_group_snapshot_enabled': True,
             'online_extend_support': True, 'sparse_copy_volume': True,
             'thin_provisioning_support': True,
             'driver_version': sp_driver.StorPoolDriver.VERSION},
            {k: stats[k] for k in (
                'volume_backend_name', 'vendor_name', 'storage_protocol',
                'multiattach', 'clone_across_pools', 'QoS_support',
                'consistent_group_snapshot_enabled', 'online_extend_support',
                'sparse_copy_volume', 'thin_provisioning_support',
                'driver_version')})
        [pool] = stats['pools']
        self.assertEqual('default', pool['pool_name'])
        self.assertEqual(['hdd', 'hybrid', 'ssd'], pool['storpool_template'])
        self.assertEqual(15, pool['reserved_percentage'])
        self.assertEqual('3.0', pool['max_over_subscription_ratio'])
        self.assertEqual(multiattach, pool['multiattach'])
        self.assertEqual(3.0, pool['storpool_templates']['ssd'][
            'provisioned_capacity_gb'])
        # No default template: untyped volumes would have none and no
        # template would count them, so the scheduler's provisioned
        # capacity is Cinder's own count of the pool (the volume manager
        # adds allocated_capacity_gb).
        self.assertNotIn('provisioned_capacity_gb', pool)
        # Imported here: it needs the objects Cinder's test base registers.
        from cinder.scheduler import host_manager
        state = host_manager.PoolState(f'{base.HOST}@storpool', None, {},
                                       pool['pool_name'])
        state.update_from_volume_capability(
            dict(pool, allocated_capacity_gb=7,
                 timestamp=timeutils.utcnow()))
        self.assertEqual(7, state.provisioned_capacity_gb)
        self.assertGreater(pool['total_capacity_gb'], 0)
        self.assertGreater(pool['free_capacity_gb'], 0)
        self.assertLessEqual(pool['free_capacity_gb'],
                             pool['total_capacity_gb'])
        self.assertEqual('up', pool['backend_state'])
        # Cached until the next periodic refresh.
        self.clear_calls()
        self.assertEqual(stats, drv.get_volume_stats())
        self.assertEqual(stats, drv.get_volume_stats(refresh=False))
        self.assertEqual([], self.queries())

    @ddt.data(({'storpool_template': 'ssd'}, True),
              ({'storpool_template': 'hybrid',
                'storpool:qos_class': 'gold'}, True),
              ({'storpool_template': 'missing'}, False),
              ({}, True))
    @ddt.unpack
    def test_scheduler_capabilities_filter(self, extra_specs, passes):
        """The real CapabilitiesFilter on the real pool stats.

        One pool whose storpool_template is the list of templates: every
        upstream-style type whose template exists passes (so a clone or a
        retype into it stays in the source's pool), a missing one fails.
        """
        # Imported here: the scheduler modules need cinder's objects
        # registered, which cinder.tests.unit does on import.
        from cinder.scheduler.filters import capabilities_filter
        from cinder.scheduler import host_manager
        pool = dict(self.driver.get_volume_stats(True)['pools'][0],
                    timestamp=timeutils.utcnow())
        state = host_manager.PoolState(f'{base.HOST}@storpool', None, pool,
                                       pool['pool_name'])
        self.assertEqual(f'{base.HOST}@storpool#default', state.backend_id)
        self.assertEqual(passes, capabilities_filter.CapabilitiesFilter(
        ).backend_passes(state, {'resource_type': {
            'extra_specs': extra_specs}}))

    def test_capacity_follows_replication(self):
        three = self.driver.get_volume_stats(True)['pools'][0]
        two = self.make_driver(storpool_replication=2).get_volume_stats(
            True)['pools'][0]
        self.assertAlmostEqual(three['total_capacity_gb'] * 1.5,
                               two['total_capacity_gb'], delta=0.1)

    def test_api_failure_reports_a_down_pool(self):
        good = self.driver.get_volume_stats(refresh=True)['pools'][0]
        self.inject('DisksList', name='internalError', descr='mgmt restart')
        stats = self.driver.get_volume_stats(refresh=True)
        [pool] = stats['pools']
        self.assertEqual(('down', 0), (pool['backend_state'],
                                       pool['free_capacity_gb']))
        self.assertEqual(good['storpool_template'],
                         pool['storpool_template'])


class SetupTestCase(base.DriverTestCase):

    def test_check_for_setup_error_one_call(self):
        self.driver.check_for_setup_error()
        self.assertEqual(['VolumeTemplatesList'], self.queries())

    def test_missing_config(self):
        drv = self.make_driver(storpool_config_file='/nonexistent/sp.conf',
                               setup=False)
        exc = self.assertRaises(exception.VolumeDriverException,
                                drv.do_setup, self.ctxt)
        self.assertIn('SP_AUTH_TOKEN', str(exc))
        self.assertIn('/nonexistent/sp.conf', str(exc))

    def test_api_options_without_config_file(self):
        drv = self.make_driver(storpool_config_file='/nonexistent/sp.conf',
                               storpool_api_host=self.emu.host,
                               storpool_api_port=self.emu.port,
                               storpool_api_token=self.emu.token)
        drv.check_for_setup_error()
        self.assertEqual(['VolumeTemplatesList'], self.queries())

    def test_token_never_logged(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        token = self.emu.token
        errors = []
        drv = self.make_driver(storpool_api_token=token)
        drv.check_for_setup_error()
        CONF.log_opt_values(logging.getLogger('conf'), logging.DEBUG)
        vol = self.volume()
        drv.create_volume(vol)
        drv.get_volume_stats(refresh=True)
        drv.initialize_connection(vol, {'host': 'h',
                                        'storpool_client_id': 1})
        self.inject('VolumeUpdate', descr='refused')
        errors.append(self.assertRaises(exception.VolumeBackendAPIException,
                                        drv.extend_volume, vol, 2))
        drv.delete_volume(vol)
        wrong = self.make_driver(storpool_api_token='99999999999')
        errors.append(self.assertRaises(
            exception.VolumeBackendAPIException,
            wrong.check_for_setup_error))
        self.assertIn('authError', str(errors[-1]))
        self.assertIn('StorPool API', logs.output)
        for text in [logs.output, repr(drv._sp_config), repr(drv._api)] + [
                str(e) for e in errors]:
            self.assertNotIn(token, text)
            self.assertNotIn('99999999999', text)


class TwoClustersTestCase(base.DriverTestCase):
    """Two backends on two clusters side by side in one process."""

    EMULATORS = 2

    def test_two_backends(self):
        emu_a, emu_b = self._emus
        # Backend a reads emulator A's storpool.conf; backend b reads the
        # same file but names emulator B's API in its own options.
        drv_a = self.make_driver('sp-a', emu_a)
        drv_b = self.make_driver('sp-b', emu_a,
                                 storpool_api_host=emu_b.host,
                                 storpool_api_port=emu_b.port,
                                 storpool_api_token=emu_b.token,
                                 storpool_template='ssd')
        vol_a, vol_b = self.volume(size=1), self.volume(size=2)
        drv_a.create_volume(vol_a)
        drv_b.create_volume(vol_b)
        self.assertEqual([self.vname(vol_a)],
                         list(self.state(emu_a)['volumes']))
        vols_b = self.state(emu_b)['volumes']
        self.assertEqual([self.vname(vol_b)], list(vols_b))
        self.assertEqual('ssd', vols_b[self.vname(vol_b)]['templateName'])
        self.assertEqual('', self.state(emu_a)['volumes'][
            self.vname(vol_a)]['templateName'])
        stats_a = drv_a.get_volume_stats(True)
        stats_b = drv_b.get_volume_stats(True)
        self.assertEqual(('sp-a', 'sp-b'), (stats_a['volume_backend_name'],
                                            stats_b['volume_backend_name']))
        # Volume A has no template: no template status counts it, so no
        # sum of them may stand for what the pool has provisioned.
        self.assertEqual(2.0, stats_b['pools'][0]['storpool_templates'][
            'ssd']['provisioned_capacity_gb'])
        self.assertEqual(0.0, sum(
            t['provisioned_capacity_gb']
            for t in stats_a['pools'][0]['storpool_templates'].values()))
        self.assertNotIn('provisioned_capacity_gb', stats_a['pools'][0])
        # Backend B has a default template: all its volumes have one, and
        # the templates' sum (with volumes made outside OpenStack in them)
        # is what the scheduler weighs against max_over_subscription_ratio.
        self.assertEqual(2.0, stats_b['pools'][0]['provisioned_capacity_gb'])
        drv_a.delete_volume(vol_a)
        drv_b.delete_volume(vol_b)
        self.assertEqual({}, self.state(emu_a)['volumes'])
        self.assertEqual({}, self.state(emu_b)['volumes'])
        self.assertEqual(['VolumeCreate', 'VolumeTemplatesStatus',
                          'DisksList', 'VolumeDelete'], self.queries(emu_b))
        # A volume made outside OpenStack in one of the templates counts:
        # it takes the same disks' space.
        drv_b._api.volume_create({'name': 'not-openstack', 'size': 5 << 30,
                                  'template': 'hdd'})
        stats_b = drv_b.get_volume_stats(True)
        self.assertEqual(5.0, stats_b['pools'][0]['provisioned_capacity_gb'])
        from cinder.scheduler import host_manager
        state = host_manager.PoolState(f'{base.HOST}@sp-b', None, {},
                                       'default')
        state.update_from_volume_capability(
            dict(stats_b['pools'][0], allocated_capacity_gb=0,
                 timestamp=timeutils.utcnow()))
        self.assertEqual(5.0, state.provisioned_capacity_gb)
        drv_b._api.volume_delete('not-openstack')


class TemplateCheckTestCase(base.DriverTestCase):
    """A misspelt template is found at start-up, not at the first create."""

    def templates(self) -> str:
        return ', '.join(sorted(t['name'] for t in
                                self.state()['templates'].values()))

    def test_default_template_missing_stops_the_backend(self):
        drv = self.make_driver(storpool_template='hybird')
        exc = self.assertRaises(exception.VolumeDriverException,
                                drv.check_for_setup_error)
        self.assertIn('storpool_template=hybird in [storpool] is not a '
                      'StorPool template; StorPool has: ' +
                      self.templates(), str(exc))

    def test_default_template_present(self):
        name = sorted(self.state()['templates'])[0]
        self.make_driver(storpool_template=name).check_for_setup_error()
        self.assertEqual(['VolumeTemplatesList'], self.queries())

    def test_volume_types_with_missing_templates_are_logged(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        name = sorted(self.state()['templates'])[0]
        self.vtype('fine', {'storpool_template': name,
                            'volume_backend_name': 'storpool'})
        self.vtype('typo', {'storpool_template': 'sdd',
                            'volume_backend_name': 'storpool'})
        self.vtype('untargeted', {'storpool_template': 'gold'})
        self.vtype('other-backend', {'storpool_template': 'x',
                                     'volume_backend_name': 'lvm'})
        self.driver.check_for_setup_error()  # starts: only a warning
        self.assertIn('volume type typo asks for StorPool template sdd, '
                      'which does not exist (StorPool has: ' +
                      self.templates() + ')', logs.output)
        self.assertIn('volume type untargeted asks for StorPool template '
                      'gold', logs.output)
        self.assertNotIn('other-backend', logs.output)
        self.assertNotIn('volume type fine', logs.output)
        stats = self.driver.get_volume_stats(refresh=True)
        self.assertEqual(['gold', 'sdd'],
                         stats['pools'][0]['storpool_missing_templates'])
