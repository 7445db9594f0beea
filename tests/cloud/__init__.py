"""A one-machine OpenStack cloud for tests: separate services on loopback.

``tests.cloud.rig.Cloud`` starts MariaDB, RabbitMQ, Keystone, Glance, the
four Cinder services (cinder-volume on ``StorPoolDriver``) and the StorPool
emulator as separate processes; ``python -m tests.cloud up|down`` is its
command line. Test tooling only: nothing in ``storpool_openstack`` imports
it.
"""
