"""FOI replies as they arrive: fetched from the charity's mailbox (IMAP or a Maildir folder),
stored whole under raw/mailbox/, the sending force identified, the figures their letters give
read as candidates that count only once a steward confirms them, and each round's replies
tracked against the FOI deadline.

messages, senders, documents, prose and candidates read; sources fetch; fetching stores and
records; review decides and writes confirmed returns; rounds tracks replies.
"""
