"""Converters: published weights shipped in other formats -> srlib's layouts (own file names, hashes and provenance)."""
