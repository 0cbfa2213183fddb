from freetier.cli import main

raise SystemExit(main())
