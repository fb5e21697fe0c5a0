"""Converters between slogen's spec and its peers' formats (Sloth, Pyrra, OpenSLO). Pure: documents in,
documents and a report out; reading and writing files is `slogen.services.interop`'s job."""
