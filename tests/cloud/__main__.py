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

"""``python -m tests.cloud up|down|status --dir DIR`` (``tox -e cloud``)."""

import argparse
import os
import sys

from tests.cloud import rig


def usage_hints(clouds_yaml: str, cloud_name: str, cloud_dir: str) -> str:
    """How to use and stop the cloud, as commands that work as printed.

    The client is this environment's (``.tox/cloud/bin``: not on PATH)
    and the stop goes through tox, like the start, from the source tree.
    """
    client = os.path.join(os.path.dirname(sys.executable), 'openstack')
    return ('use it with:\n'
            '  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s\n'
            '  %s volume service list\n'
            'stop it with:\n'
            '  tox -e cloud -- down --dir %s' % (
                clouds_yaml, cloud_name, client, cloud_dir))


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m tests.cloud',
        description='A one-machine OpenStack cloud (MariaDB, RabbitMQ, '
                    'Keystone, Glance, Cinder API, scheduler, volume on '
                    'StorPoolDriver, backup) on the StorPool emulator.')
    parser.add_argument('action', choices=('up', 'down', 'status'))
    parser.add_argument('--dir', default='/var/tmp/storpool-cloud',
                        help='work directory: configs, logs, data, '
                             'state.json (default: %(default)s)')
    parser.add_argument('--driver', choices=('ours', 'in-tree'),
                        default='ours',
                        help="cinder-volume's driver (default: ours)")
    args = parser.parse_args(argv)
    if args.action == 'up':
        driver = (rig.OUR_DRIVER if args.driver == 'ours'
                  else rig.IN_TREE_DRIVER)
        cloud = rig.Cloud(args.dir, driver=driver)
        try:
            cloud.check_dir()
        except rig.CloudError as exc:
            # Nothing started: no stop(), which would orphan the cloud
            # already running there.
            print('cloud start refused: %s' % exc, file=sys.stderr)
            return 1
        try:
            cloud.start()
        except BaseException as exc:
            left = cloud.stop()
            print('cloud start failed: %s' % exc, file=sys.stderr)
            if left:
                print('left behind: %s' % ', '.join(left), file=sys.stderr)
            return 1
        print('cloud up in %.1f s: %s' % (cloud.start_seconds, cloud.dir))
        for name, proc in cloud.procs.items():
            print('  %-18s pid %-7d %s' % (name, proc.pid, proc.log))
        print(usage_hints(cloud.clouds_yaml, cloud.cloud_name, cloud.dir))
        return 0
    if not os.path.exists(os.path.join(args.dir, 'state.json')):
        print('no cloud running in %s' % args.dir, file=sys.stderr)
        return 1
    cloud = rig.Cloud.attach(args.dir)
    if args.action == 'status':
        for name, proc in cloud.procs.items():
            print('  %-18s pid %-7d %s' % (
                name, proc.pid, 'up' if rig._alive(proc) else 'DOWN'))
        return 0
    left = cloud.stop()
    if left:
        print('left behind: %s' % ', '.join(left), file=sys.stderr)
        return 1
    print('cloud stopped: no process, loop device, mount or port left')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
