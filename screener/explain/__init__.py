"""Views of a screening result for people: terminal text (JSON is ``ScreeningResult.to_dict``)."""
