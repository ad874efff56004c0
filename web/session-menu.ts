/**
 * A session's "⋯" menu (Rename, Delete), as the WAI-ARIA menu button pattern has it:
 * Enter/Space/click opens it on its first item, arrow keys move, Escape closes it and
 * gives focus back to its button, a click elsewhere closes it.
 */
import { el } from './dom';

export interface SessionMenuActions {
  rename: () => void;
  delete: () => void;
}

let openMenu: { button: HTMLButtonElement; menu: HTMLElement } | undefined;

/** Closes the open menu, if any. */
export function closeMenus(): void {
  if (!openMenu) return;
  openMenu.menu.hidden = true;
  openMenu.button.setAttribute('aria-expanded', 'false');
  openMenu = undefined;
}

/** The menu's button and its (hidden) menu, for a session titled `title`. */
export function sessionMenu(
  title: string,
  actions: SessionMenuActions,
): [HTMLButtonElement, HTMLElement] {
  const button = el(
    'button',
    {
      type: 'button',
      class: 'menu-button',
      'aria-haspopup': 'menu',
      'aria-expanded': 'false',
      'aria-label': `Actions for “${title}”`,
    },
    '⋯',
  );
  const item = (label: string, run: () => void) => {
    const b = el('button', { type: 'button', role: 'menuitem', tabindex: '-1' }, label);
    b.addEventListener('click', () => {
      closeMenus();
      run();
    });
    return b;
  };
  const items = [item('Rename', actions.rename), item('Delete', actions.delete)];
  const menu = el(
    'div',
    { class: 'menu', role: 'menu', 'aria-label': `Actions for “${title}”`, hidden: '' },
    ...items,
  );
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    const wasOpen = openMenu?.menu === menu;
    closeMenus();
    if (wasOpen) return;
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    openMenu = { button, menu };
    items[0]?.focus();
  });
  menu.addEventListener('keydown', (e) => {
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : items.length - 1;
      items[(at + step) % items.length]?.focus();
    } else if (e.key === 'Escape') {
      // The page's Escape cancels a running reply: this one only closes the menu.
      e.stopPropagation();
      closeMenus();
      button.focus();
    }
  });
  menu.addEventListener('focusout', (e) => {
    if (!menu.contains(e.relatedTarget as Node | null)) closeMenus();
  });
  return [button, menu];
}

document.addEventListener('click', (e) => {
  if (openMenu && !openMenu.menu.contains(e.target as Node)) closeMenus();
});
