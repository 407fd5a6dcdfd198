# sluice worker image. The TypeScript sources run through tsx, a runtime dependency: there is no build step.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
CMD ["node", "bin/sluice.js", "worker"]
