"""Many songs: the library (one SQLite file of analysed songs and its rows), indexing a folder
(locally or with Ray), search by words and by song, the catalogue the app browses with its song
map (atlas, projection), and mood journeys with their playlists. It imports from `answer`,
`audio`, `text`, `safety` and the floor, never from `learn` or `web`."""

from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "Library": "store", "LibraryError": "store", "default_db_path": "store",
    "SongRow": "rows", "index_folder": "indexing", "SongIndex": "search",
    "Catalogue": "catalogue", "plan": "journey", "Pool": "journey", "Endpoint": "journey",
    "JourneyError": "journey",
})
