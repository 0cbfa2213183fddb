"""The review loop's side effects: the plans and guard a CLI call names, the comment's
publication (check runs, labels), applying exactly a reviewed plan, and deploying a merged
pull request layer by layer. The pure parts it drives are `freetier.plans` and
`freetier.comment`."""
