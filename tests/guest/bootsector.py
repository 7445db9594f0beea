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
"""A tiny bootable disk: 512 bytes of real-mode code and two data sectors.

What the guest does, all of it reported on COM1 (port 0x3f8):

1. prints ``MARKER``;
2. reads sector 1 of its boot disk with int 13h and prints ``READ:``
   and the text found there (so the bytes came through the disk);
3. writes ``WROTE`` into sector 2 with int 13h and prints
   ``WRITE:OK`` or ``WRITE:FAIL`` (a read-only disk refuses it);
4. prints ``END``; then, if sector 1 starts with ``S`` ("stay"), it idles
   with interrupts on (a running guest for the extend and detach tests),
   else it exits qemu through the isa-debug-exit device at port 0xf4.

The code is assembled here by a two-pass table of opcodes, so that no
assembler is needed on the test machine.
"""

import struct

SECTOR = 512
MARKER = b'SP-GUEST-BOOT-7f3a'
END = b'SP-GUEST-END'
WROTE = b'SP-GUEST-WROTE-SECTOR-2'
DEBUG_EXIT_PORT = 0xf4
ORIGIN = 0x7c00
READ_BUF = 0x8000


def _assemble(items: list) -> bytes:
    """Bytes for a list of raw bytes, labels and label references.

    ('label', name) marks a place; ('rel8'|'rel16', name) is a jump
    displacement to it; ('abs16', name) its address.
    """
    sizes = {'rel8': 1, 'rel16': 2, 'abs16': 2}
    labels = {}
    pos = 0
    for item in items:
        if isinstance(item, bytes):
            pos += len(item)
        elif item[0] == 'label':
            labels[item[1]] = pos
        else:
            pos += sizes[item[0]]
    out = bytearray()
    for item in items:
        if isinstance(item, bytes):
            out += item
        elif item[0] == 'label':
            continue
        elif item[0] == 'abs16':
            out += struct.pack('<H', ORIGIN + labels[item[1]])
        else:
            end = len(out) + sizes[item[0]]
            disp = labels[item[1]] - end
            out += struct.pack('<b' if item[0] == 'rel8' else '<h', disp)
    return bytes(out)


def _print(label: str) -> list:
    return [b'\xbe', ('abs16', label),          # mov si, label
            b'\xe8', ('rel16', 'print')]        # call print


def boot_sector() -> bytes:
    """The 512-byte boot sector (with the 0x55aa signature)."""
    drive = ('abs16', 'drive')
    code = [
        b'\xfa',                                # cli
        b'\x31\xc0',                            # xor ax, ax
        b'\x8e\xd8', b'\x8e\xc0', b'\x8e\xd0',  # mov ds/es/ss, ax
        b'\xbc\x00\x7c',                        # mov sp, 0x7c00
        b'\xfb',                                # sti
        b'\x88\x16', drive,                     # mov [drive], dl
        *_print('m_marker'),
        # int 13h, ah=2: read 1 sector, cylinder 0, head 0, sector 2
        # (LBA 1) to 0:8000.
        b'\xb8\x01\x02', b'\xb9\x02\x00', b'\xb6\x00',
        b'\x8a\x16', drive,                     # mov dl, [drive]
        b'\xbb\x00\x80',                        # mov bx, READ_BUF
        b'\xcd\x13',                            # int 13h
        b'\x72', ('rel8', 'read_fail'),         # jc read_fail
        *_print('m_read'),
        b'\xbe\x01\x80',                        # mov si, READ_BUF + 1
        b'\xe8', ('rel16', 'print'),
        # int 13h, ah=3: write 1 sector (LBA 2) from the WROTE text.
        b'\xb8\x01\x03', b'\xb9\x03\x00', b'\xb6\x00',
        b'\x8a\x16', drive,
        b'\xbb', ('abs16', 'm_wrote'),            # mov bx, wrote
        b'\xcd\x13',
        b'\x72', ('rel8', 'write_fail'),
        *_print('m_write_ok'),
        b'\xeb', ('rel8', 'finish'),            # jmp finish
        ('label', 'write_fail'),
        *_print('m_write_fail'),
        ('label', 'finish'),
        *_print('m_end'),
        b'\xa0\x00\x80',                        # mov al, [READ_BUF]
        b'\x3c\x53',                            # cmp al, 'S'
        b'\x74', ('rel8', 'stay'),              # je stay
        b'\xb0\x00',                            # mov al, 0
        b'\xe6', bytes([DEBUG_EXIT_PORT]),      # out 0xf4, al: qemu exits
        ('label', 'stay'),
        b'\xfb', b'\xf4', b'\xeb\xfd',          # sti; hlt; jmp hlt
        ('label', 'read_fail'),
        *_print('m_read_fail'),
        b'\xeb', ('rel8', 'finish'),
        # print: the NUL-terminated string at ds:si to COM1.
        ('label', 'print'),
        b'\xac',                                # lodsb
        b'\x84\xc0',                            # test al, al
        b'\x74\x06',                            # jz ret
        b'\xba\xf8\x03',                        # mov dx, 0x3f8
        b'\xee',                                # out dx, al
        b'\xeb\xf5',                            # jmp print
        b'\xc3',                                # ret
        ('label', 'drive'), b'\x00',
        ('label', 'm_marker'), MARKER + b'\r\n\x00',
        ('label', 'm_read'), b'READ:\x00',
        ('label', 'm_write_ok'), b'\r\nWRITE:OK\r\n\x00',
        ('label', 'm_write_fail'), b'\r\nWRITE:FAIL\r\n\x00',
        ('label', 'm_read_fail'), b'READ:FAIL\r\n\x00',
        ('label', 'm_end'), END + b'\r\n\x00',
        ('label', 'm_wrote'), WROTE + b'\x00',
    ]
    body = _assemble(code)
    if len(body) > SECTOR - 2:
        raise AssertionError(f'boot code is {len(body)} bytes')
    return body.ljust(SECTOR - 2, b'\x00') + b'\x55\xaa'


def disk_image(text: bytes, *, stay: bool = False,
               size: int = 1024 * 1024) -> bytes:
    """A raw disk: the boot sector, then `text` in sector 1.

    `stay`: the guest keeps running after its report instead of exiting.
    """
    if b'\x00' in text or len(text) > SECTOR - 2:
        raise ValueError('text must be at most 510 bytes with no NUL')
    data = (b'S' if stay else b'X') + text + b'\x00'
    image = boot_sector() + data.ljust(SECTOR, b'\x00')
    return image.ljust(size, b'\x00')
