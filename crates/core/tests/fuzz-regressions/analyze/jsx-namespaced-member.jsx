export const x = <a:b.c />;
