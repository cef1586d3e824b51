/** A first-in first-out queue with O(1) push and shift (an array with a moving head, compacted as it drains). */
export class Fifo<T> {
  #items: T[] = []
  #head = 0

  get size (): number {
    return this.#items.length - this.#head
  }

  push (item: T): void {
    this.#items.push(item)
  }

  peek (): T | undefined {
    return this.#items[this.#head]
  }

  /** The item `index` places from the front. */
  at (index: number): T | undefined {
    return index < 0 ? undefined : this.#items[this.#head + index]
  }

  shift (): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined as T
    // Compact once the dead prefix is half the array, so memory follows the live size.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }
}
