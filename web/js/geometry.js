// Which of the city's shapes (GeoJSON, [long, lat]) hold a point: the map's inside-the-city check.

function ringHolds(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polygonHolds(rings, x, y) {
  if (!rings.length || !ringHolds(rings[0], x, y)) return false;
  return !rings.slice(1).some((hole) => ringHolds(hole, x, y));
}

/** Whether a GeoJSON Polygon or MultiPolygon geometry holds the point. */
export function geometryHolds(geometry, lat, long) {
  if (!geometry) return false;
  if (geometry.type === 'Polygon') return polygonHolds(geometry.coordinates, long, lat);
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.some((p) => polygonHolds(p, long, lat));
  return false;
}

/** The first feature of a FeatureCollection that holds the point, or null. */
export function featureAt(collection, lat, long) {
  const features = (collection && Array.isArray(collection.features)) ? collection.features : [];
  return features.find((f) => geometryHolds(f.geometry, lat, long)) || null;
}
