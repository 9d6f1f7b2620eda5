"""Backups that restore: `anfang backup create DIR` and `anfang backup restore DIR`.

What a backup holds (decisions):

- the database, as one consistent snapshot: SQLite's online backup API (all pages in one step,
  so a writer committing meanwhile cannot tear it), or `pg_dump --format=custom` of a snapshot
  exported by a REPEATABLE READ transaction that stays open while the files are listed, so the
  list of files and the dump see the same rows;
- the files the snapshot refers to, copied after it and checked against the hashes its rows
  record: the photos' originals (EVIDENCE_DIR/sha256/…), the issued documents (documents/…),
  the published bulletins (bulletins/…); a file written after the snapshot belongs to no row of
  it and is not needed. The redacted images (redacted/…) of those photos are copied too: a
  published bulletin may name a box version whose boxes are no longer stored, so they cannot
  always be made again;
- left out: the re-encoded variants (variants/…, a pure function of the original, made again the
  first time one is asked for) and partial uploads (incoming/…, the device resumes from offset 0
  when the file is missing);
- the signed audit checkpoints exported to AUDIT_CHECKPOINT_DIR up to the snapshot's head (the
  checkpoints the auditors signed are rows of the database as well); restore checks the chain
  against them;
- the public half of the signing material (trust-roots.pem, the organs' certificates), so that
  the signatures of the issued documents can be checked after a restore on a new machine. The
  organs' private keys only when the operator asks (--include-signing-keys): a backup is copied
  off the machine, and whoever holds a copy with the keys can issue documents in an organ's name;
  restoring needs no key (documents are verified by their hashes and certificates), only issuing
  new ones does, and the keys are better kept apart, like the passphrase, which is never stored;
- manifest.json: every file's relative path, size and SHA-256, the audit chain head and the
  database revision of the snapshot, the row count of every table, and when it was taken.

Restore refuses before it touches anything: every file is checked against the manifest, the
database must hold no table and the evidence directory no entry.
"""
