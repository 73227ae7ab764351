//! Whether a directory's files are on a local disk, where reading them
//! cannot block for an unbounded time.
//!
//! A tree on a network or FUSE file system can hang in any system call (a
//! hard NFS mount whose server is gone), so the plugin host reads such
//! trees off the plugin call's thread (see [`super::Tree::may_hang`]). A
//! tree whose directory, and every mount below it, is on a local file
//! system is read on the call's own thread, which saves two thread
//! hand-offs per read.
//!
//! The answer comes from `/proc/self/mountinfo` (the mount holding the
//! directory and every mount below it), never from a system call on the
//! directory itself, which could hang. When it cannot be told (no
//! `/proc`), the answer is "not local".

use std::path::Path;

/// File systems whose operations end on their own: block devices and
/// memory. Anything else (nfs, cifs, smb3, fuse.*, 9p, ceph, ...) may hang.
const LOCAL: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "zfs", "f2fs", "bcachefs",
    "jfs", "reiserfs", "squashfs", "erofs", "iso9660", "udf", "vfat", "msdos", "exfat", "ntfs3",
];

/// Whether `dir` (an absolute, canonical path) and everything below it are
/// on local file systems, by this process's mount table.
pub(crate) fn on_local_disk(dir: &Path) -> bool {
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(table) => all_local(&table, dir),
        Err(_) => false,
    }
}

/// [`on_local_disk`] over the text of a `mountinfo` table.
fn all_local(table: &str, dir: &Path) -> bool {
    let mut holder: Option<(usize, bool)> = None;
    let mut below_local = true;
    for line in table.lines() {
        let Some((point, fs_type)) = parse_line(line) else {
            // A line we cannot read could be the mount that matters.
            return false;
        };
        let point = Path::new(&point);
        let local = LOCAL.contains(&fs_type);
        if dir.starts_with(point) {
            // The longest mount point above `dir` holds it; a later line of
            // the same length is a mount over the earlier one.
            let depth = point.components().count();
            if holder.is_none_or(|(d, _)| depth >= d) {
                holder = Some((depth, local));
            }
        } else if point.starts_with(dir) {
            below_local &= local;
        }
    }
    holder.is_some_and(|(_, local)| local) && below_local
}

/// The mount point (unescaped) and file system type of one `mountinfo`
/// line: `ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE
/// SUPER-OPTIONS`.
fn parse_line(line: &str) -> Option<(String, &str)> {
    let mut fields = line.split(' ');
    let point = fields.nth(4)?;
    let mut rest = fields.skip_while(|f| *f != "-");
    rest.next()?;
    let fs_type = rest.next()?;
    Some((unescape(point), fs_type))
}

/// Undo mountinfo's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let n = d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(n).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 27 0:40 / /srv/repos rw,relatime shared:5 - xfs /dev/vdb1 rw
31 30 0:41 / /srv/repos/shared rw,relatime shared:6 - nfs4 server:/export rw,vers=4.2
32 27 0:42 / /mnt/my\\040disk rw - fuse.sshfs host: rw
33 27 0:43 / /var/cache/sluice rw - tmpfs tmpfs rw
";

    #[test]
    fn a_tree_is_local_when_its_mount_and_every_mount_below_are() {
        assert!(all_local(TABLE, Path::new("/home/me/app")));
        assert!(all_local(TABLE, Path::new("/var/cache/sluice/git/abc")));
        assert!(all_local(TABLE, Path::new("/srv/repos/team-a")));
        // A network file system mounted below the tree.
        assert!(!all_local(TABLE, Path::new("/srv/repos")));
        assert!(!all_local(TABLE, Path::new("/srv")));
        assert!(!all_local(TABLE, Path::new("/")));
        // On a network or FUSE file system itself.
        assert!(!all_local(TABLE, Path::new("/srv/repos/shared/app")));
        assert!(!all_local(TABLE, Path::new("/mnt/my disk/app")));
        // `/mnt/my` is not inside `/mnt/my disk`.
        assert!(all_local(TABLE, Path::new("/mnt/my")));
    }

    #[test]
    fn a_mount_over_another_decides_and_an_unreadable_table_is_not_local() {
        let over = format!("{TABLE}34 27 0:44 / /var/cache/sluice rw - nfs server:/c rw\n");
        assert!(!all_local(&over, Path::new("/var/cache/sluice/git")));
        assert!(!all_local("garbage\n", Path::new("/home")));
        assert!(!all_local("", Path::new("/home")));
    }
}
