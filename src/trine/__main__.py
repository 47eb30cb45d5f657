from trine.cli import main

raise SystemExit(main())
