from faststyle.cli import main
import sys
sys.exit(main())
