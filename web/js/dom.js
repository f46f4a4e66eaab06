// The one DOM lookup every module uses: elements of index.html by id.
export const $ = (id) => document.getElementById(id);
