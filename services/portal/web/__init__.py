"""The portal's screens: routes, templates, static assets and the label catalogues."""
