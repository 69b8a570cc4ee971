"""Identity on the ground floor: organisations, members, roles, the acting member, audit log,
shared column types and the one domain error base. Imports none of our other packages."""
