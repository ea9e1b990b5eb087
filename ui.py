"""`python ui.py`: the chat UI in a browser (the same as `assistant ui`).

The UI's code lives in `assistant/ui.py`, so an installed package has it too; this file stays
as the entry point a checkout is run with.
"""

from assistant.ui import main

if __name__ == "__main__":
    main()
